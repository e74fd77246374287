"""`cmi rebuild` proven on real nights: two nightly runs of the real job, then a rebuild from their archive.

Not a timing: a proof too slow for the test suite (four nights of the real job: ingest, dbt build, quality,
forecasts, plan; each about a minute on one core), kept here so it can be run at will. It

1. writes a small demo landing (``scale="small"``) and lets the deliveries arrive as they would: before night 1
   the landing holds the files received before night 1's knowledge cut, before night 2 those of night 2's;
2. runs the nightly job for both nights on one warehouse, as ``cmi run --as-of`` does (``run_night``); the
   archive fills as the files are read;
3. runs ``cmi rebuild``'s replay of the same two nights from that archive onto a new warehouse;
4. compares every table and view of the two warehouses (``tests/fixtures.py``: run columns left out, doubles
   within 1e-9) and prints the differences; exit status 1 when there is one.

Run: ``.venv/bin/python -u benchmarks/rebuild_proof.py [--days 120] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from assets.feeds.contracts import SUPPLIER_FOLDER  # noqa: E402
from assets.feeds.demo import generate_demo  # noqa: E402
from assets.feeds.loading.archive import FeedArchive  # noqa: E402
from orchestration.commands.rebuild import rebuild, run_night  # noqa: E402
from orchestration.runtime import settings  # noqa: E402
from orchestration.runtime.partitions import known_before  # noqa: E402
from tests.fixtures import snapshot_differences, snapshot_warehouse  # noqa: E402

NIGHTS = (date(2025, 6, 29), date(2025, 6, 30))


def deliver_until(source: Path, landing: Path, cut: datetime) -> int:
    """Copy the files of ``source`` received before ``cut`` (their modification time) into ``landing``."""
    count = 0
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        received = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)
        target = landing / path.relative_to(source)
        if received < cut and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            count += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=120, help="history the demo writes before the last night")
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temporary folder)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="cmi-rebuild-proof-"))
    work.mkdir(parents=True, exist_ok=True)
    source, landing, live = work / "deliveries", work / "landing", work / "live"
    generate_demo(source, settings.partner_config_dir(), seed=11, days=args.days, end_date=NIGHTS[-1], scale="small")
    # The demo writes master data as of now; here it was in place before the first night, as a supplier's is.
    placed = datetime(NIGHTS[0].year, 1, 1, tzinfo=UTC).timestamp()
    for path in (source / SUPPLIER_FOLDER).rglob("*"):
        os.utime(path, (placed, placed))
    landing.mkdir(exist_ok=True)
    started = time.perf_counter()
    for night in NIGHTS:
        count = deliver_until(source, landing, known_before(night))
        print(f"night {night}: {count} new file(s) delivered", file=sys.stderr)
        if not run_night(night, landing, live / "warehouse.duckdb", live):
            print(f"the live night {night} failed; see {live}/logs", file=sys.stderr)
            return 1
    live_seconds = time.perf_counter() - started
    started = time.perf_counter()
    rebuilt = work / "rebuilt"
    failed = rebuild(FeedArchive(live / "archive"), NIGHTS, rebuilt / "warehouse.duckdb", rebuilt, run_night)
    if failed is not None:
        print(f"the rebuilt night {failed} failed; see {rebuilt}/logs", file=sys.stderr)
        return 1
    rebuild_seconds = time.perf_counter() - started
    differences = snapshot_differences(
        snapshot_warehouse(live / "warehouse.duckdb", work / "snapshot-live"),
        snapshot_warehouse(rebuilt / "warehouse.duckdb", work / "snapshot-rebuilt"),
    )
    tables = len(list((work / "snapshot-live").glob("*.parquet")))
    print(f"live nights {live_seconds:.0f} s, rebuild {rebuild_seconds:.0f} s; {tables} tables and views compared")
    for difference in differences:
        print(difference)
    print("identical" if not differences else f"{len(differences)} table(s) differ")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if differences else 0


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    sys.exit(main())
