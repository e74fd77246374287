"""`cmi rebuild`: a new warehouse from the feed archive, replaying the nights in order as they ran.

The warehouse holds history that no single night can recreate (forecast history, plan history, exceptions,
check results). The archive (``<data>/archive``, see ``assets/feeds/loading/archive.py``) holds every file ever
delivered with when it was received. Rebuilding replays each night, oldest first, on a fresh warehouse: for the
night of business date D the landing holds every archived delivery received before the night's knowledge cut
(``known_before(D)``), with its original name bytes and modification time, the latest content per path; then the
nightly job runs for D exactly as ``cmi run --as-of D`` would. Reports, exports and docs of the replay go to their
own folder, so the live ones are not touched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from pathlib import Path


def register(commands: argparse._SubParsersAction) -> None:
    from orchestration.cli import _parse_date

    rebuild = commands.add_parser(
        "rebuild",
        help="replay the nights from the feed archive onto a new warehouse",
        description="Rebuild a warehouse from the feed archive: every night from --from to --to (default: the "
        "nights the Dagster instance recorded as successful) is replayed in order with the files that had "
        "arrived by then, so history tables (forecast and plan history, exceptions, check results) come back too.",
    )
    rebuild.add_argument("--from", dest="start", type=_parse_date, help="first business date to replay")
    rebuild.add_argument("--to", dest="end", type=_parse_date, help="last business date to replay")
    rebuild.add_argument("--warehouse", required=True, metavar="PATH", help="the new DuckDB file (must not exist)")
    rebuild.add_argument("--archive", metavar="DIR", help="feed archive (default: <data>/archive)")
    rebuild.add_argument(
        "--out", metavar="DIR", help="where the replay writes reports, exports and docs (default: <data>/rebuild)"
    )
    rebuild.set_defaults(handler=cmd_rebuild)


def cmd_rebuild(args: argparse.Namespace) -> int:
    from assets.feeds.loading.archive import FeedArchive
    from orchestration.runtime import settings

    warehouse = Path(args.warehouse).resolve()
    if warehouse.exists():
        print(f"cmi rebuild: {warehouse} exists; rebuild writes a new warehouse only", file=sys.stderr)
        return 2
    archive = FeedArchive(Path(args.archive).resolve() if args.archive else settings.data_dir() / "archive")
    nights = nights_to_replay(args.start, args.end, _recorded_nights)
    if not nights:
        print("cmi rebuild: no night to replay (give --from and --to)", file=sys.stderr)
        return 2
    out = Path(args.out).resolve() if args.out else settings.data_dir() / "rebuild"
    failed = rebuild(archive, nights, warehouse, out, run_night)
    if failed:
        print(f"cmi rebuild: the night of {failed} failed; see {out}/logs", file=sys.stderr)
        return 1
    print(f"rebuilt {warehouse} from {len(nights)} night(s), {nights[0]} to {nights[-1]}", file=sys.stderr)
    return 0


def nights_to_replay(start: date | None, end: date | None, recorded: Callable[[], list[date]]) -> list[date]:
    """Every date from ``start`` to ``end`` when both are given, else the recorded nights within the bounds."""
    if start is not None and end is not None:
        return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    return [night for night in recorded() if (start is None or night >= start) and (end is None or night <= end)]


def _recorded_nights() -> list[date]:
    """Business dates of the successful nightly runs in the Dagster instance, oldest first."""
    import dagster as dg

    from orchestration.cli import dagster_home
    from orchestration.jobs import NIGHTLY_JOB_NAME
    from orchestration.runtime import settings

    # The nights the live warehouse ran: its own Dagster home.
    instance = dg.DagsterInstance.from_config(str(dagster_home(settings.data_dir(), settings.warehouse_path())))
    runs = instance.get_runs(dg.RunsFilter(job_name=NIGHTLY_JOB_NAME, statuses=[dg.DagsterRunStatus.SUCCESS]))
    return sorted(
        {date.fromisoformat(run.tags["dagster/partition"]) for run in runs if "dagster/partition" in run.tags}
    )


def restore_landing(archive, night: date, landing: Path) -> int:
    """Fill an empty ``landing`` with the deliveries the night of ``night`` could see; returns how many files.

    Per landing path the latest delivery received before the night's knowledge cut wins, with its original name
    bytes and its received time as modification time, as the loader first saw it.
    """
    from orchestration.runtime.partitions import known_before

    cut = known_before(night)
    latest = {}
    for delivery in archive.deliveries():
        if delivery.received < cut:
            current = latest.get(delivery.path_hex)
            if current is None or delivery.received >= current.received:
                latest[delivery.path_hex] = delivery
    for delivery in latest.values():
        target = os.path.join(os.fsencode(landing), delivery.raw_path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(archive.object_path(delivery.source_file_id), target)
        os.chmod(target, 0o644)
        stamp = delivery.received.timestamp() if delivery.received.tzinfo else _utc_timestamp(delivery.received)
        os.utime(target, (stamp, stamp))
    return len(latest)


def _utc_timestamp(naive) -> float:
    from datetime import UTC

    return naive.replace(tzinfo=UTC).timestamp()


def rebuild(
    archive, nights: Iterable[date], warehouse: Path, out: Path, night_runner: Callable[[date, Path, Path, Path], bool]
) -> date | None:
    """Replay ``nights`` in order; returns the first night that failed (the replay stops there), or None."""
    out.mkdir(parents=True, exist_ok=True)
    for night in sorted(nights):
        with tempfile.TemporaryDirectory(prefix=f"cmi-rebuild-{night}-", dir=out) as scratch:
            landing = Path(scratch) / "landing"
            landing.mkdir()
            files = restore_landing(archive, night, landing)
            print(f"night {night}: {files} archived file(s) restored", file=sys.stderr)
            if not night_runner(night, landing, warehouse, out):
                return night
    return None


def run_night(night: date, landing: Path, warehouse: Path, out: Path) -> bool:
    """The nightly job for ``night`` on ``warehouse``, as `cmi run` runs it, with artefacts under ``out``."""
    import contextlib

    import dagster as dg

    from orchestration.cli import RunPaths
    from orchestration.definitions import build_definitions
    from orchestration.jobs import NIGHTLY_JOB_NAME
    from orchestration.runtime import settings

    paths = RunPaths(warehouse, landing, settings.partner_config_dir(), out)
    job = build_definitions(paths.partner_config).resolve_job_def(NIGHTLY_JOB_NAME)
    log = out / "logs" / f"rebuild-{night.isoformat()}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as stream, contextlib.redirect_stdout(stream):
        result = job.execute_in_process(
            partition_key=night.isoformat(),
            instance=dg.DagsterInstance.ephemeral(),
            run_config={"resources": paths.resources_config()},
            raise_on_error=False,
        )
    return result.success
