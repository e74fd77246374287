"""Two consecutive nights on one demo landing, as a supplier lives them: wall time and peak RSS of each step.

`cmi demo --end D` writes a small demo landing and `cmi run --as-of D` runs the night on a new warehouse; then
`cmi demo --end D+1` extends the same landing (every file already there must stay byte-identical, which is checked)
and `cmi run --as-of D+1` runs the second night on the same warehouse, which loads only the new deliveries. Each
step is a child process; its peak RSS is the child's own (`wait4`). The nights' artefacts (Dagster home, logs,
reports) go to the scratch folder (`CMI_DATA_DIR`); each night's time is then split by its run's event log into
the steps it took and what the process spent outside the run (start-up, loading definitions, the summary), with
whether dbt parsed the whole project (from the night's dbt log).

    .venv/bin/python benchmarks/consecutive_nights.py [--end 2025-06-30] [--days 200] [--scale small]
        [--locations-per-partner N --products N [--partners N]] [--scratch FOLDER]

At supplier size (`--scale full --days 730 --locations-per-partner 100 --products 333`: 99,900 series, 11 GB of
landing) give `--scratch` a folder on a disk with room for the landing and the warehouse (about three times the
landing); files are compared by their SHA-256, read in blocks, so memory does not follow the landing.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

CMI = Path(sys.executable).parent / "cmi"


# A night's steps as the breakdown groups them: (label, does a step key belong to it).
STEP_GROUPS = [
    ("ingest", lambda key: key in {"partner_feeds", "supplier_master_data", "partner_feed_freshness"}),
    ("dbt build", lambda key: key == "warehouse_models"),
    ("dbt docs", lambda key: key == "warehouse__dbt_docs"),
    ("GX checks and Data Docs", lambda key: "_gx_" in key or key == "quality__data_docs"),
    ("forecast", lambda key: key.startswith("forecasts__")),
    ("plan, exports, report, snapshot, gate", lambda key: True),
]


def run_cmi(arguments: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Run one `cmi` command; its wall seconds, peak RSS in MiB and CPU seconds (user and system, dbt's included:
    a loaded machine stretches wall time far more than CPU time). A failing command stops the benchmark."""
    elapsed, usage = run_cmi_usage(arguments, env)
    return elapsed, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def run_cmi_usage(arguments: list[str], env: dict[str, str] | None = None) -> tuple[float, os.struct_rusage]:
    """Run one `cmi` command; its wall seconds and the child's resource usage (peak RSS, CPU seconds)."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        child = subprocess.Popen([str(CMI), *arguments], stdout=output, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            output.seek(0)
            raise SystemExit(f"cmi {' '.join(arguments)} failed:\n{output.read().decode()[-3000:]}")
    return elapsed, usage


def step_breakdown(dagster_home: Path, business_date: str, wall: float) -> dict[str, float]:
    """Seconds of the night's run by ``STEP_GROUPS`` (from step start to its end in the event log), and what the
    process spent outside the run."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        (run,) = instance.get_runs(dg.RunsFilter(tags={"dagster/partition": business_date}), limit=1)
        records = instance.all_logs(run.run_id)
    started: dict[str, float] = {}
    seconds = dict.fromkeys((label for label, _ in STEP_GROUPS), 0.0)
    for record in records:
        kind = record.dagster_event.event_type if record.is_dagster_event else None
        if kind == dg.DagsterEventType.STEP_START:
            started[record.step_key] = record.timestamp
        elif kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            label = next(label for label, member in STEP_GROUPS if member(record.step_key))
            seconds[label] += record.timestamp - started.pop(record.step_key)
    seconds["outside the run (start-up, definitions, summary)"] = wall - (records[-1].timestamp - records[0].timestamp)
    return seconds


def full_parses(log: Path) -> int:
    """How often dbt parsed the whole project during a night (its dbt output, in the night's log): each time it says
    why it cannot parse only what changed (no saved parse, other vars, another profile; one invocation may give
    several reasons, so invocations are counted, each starting with "Registered adapter")."""
    invocations = log.read_text(encoding="utf-8", errors="replace").split("Registered adapter")[1:]
    return sum("Unable to do partial parsing" in invocation for invocation in invocations)


def _files(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under `root` by its relative name: its SHA-256 (read in blocks) and modification time."""
    files = {}
    for path in root.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
            files[path.relative_to(root).as_posix()] = (digest, path.stat().st_mtime_ns)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--end", type=date.fromisoformat, default=date(2025, 6, 30), help="first night's date")
    parser.add_argument("--days", type=int, default=200)
    parser.add_argument("--scale", choices=["small", "full"], default="small")
    for option in ("--locations-per-partner", "--products", "--partners"):
        parser.add_argument(option, type=int, metavar="N", help=f"passed to cmi demo {option}")
    parser.add_argument("--scratch", type=Path, help="folder for the landing and the warehouse (default: a temp one)")
    args = parser.parse_args()
    sizes = [
        part
        for option in ("locations_per_partner", "products", "partners")
        if getattr(args, option) is not None
        for part in (f"--{option.replace('_', '-')}", str(getattr(args, option)))
    ]
    with tempfile.TemporaryDirectory(prefix="cmi-nights-", dir=args.scratch) as folder:
        landing, warehouse = Path(folder) / "landing", Path(folder) / "warehouse.duckdb"
        env = {**os.environ, "CMI_DATA_DIR": str(Path(folder) / "data")}
        env.pop("DAGSTER_HOME", None)
        demo = ["demo", "--seed", "7", "--scale", args.scale, *sizes, "--out", str(landing)]
        run = ["run", "--landing", str(landing), "--warehouse", str(warehouse)]
        rows = [("demo to D", *run_cmi([*demo, "--days", str(args.days), "--end", str(args.end)], env))]
        rows.append(("night D", *run_cmi([*run, "--as-of", str(args.end)], env)))
        before = _files(landing)
        following = args.end + timedelta(days=1)
        rows.append(("demo extended to D+1", *run_cmi([*demo, "--end", str(following)], env)))
        after = _files(landing)
        changed = [name for name, content in before.items() if after.get(name) != content]
        rows.append(("night D+1", *run_cmi([*run, "--as-of", str(following)], env)))
        home = next((Path(folder) / "data" / "dagster_home").iterdir())
        logs = Path(folder) / "data" / "logs"
        nights = [(night, rows[index][1]) for night, index in ((args.end, 1), (following, 3))]
        steps = [step_breakdown(home, night.isoformat(), wall) for night, wall in nights]
        parses = [full_parses(logs / f"nightly-{night.isoformat()}.log") for night, _ in nights]
    landing_options = " ".join([f"scale {args.scale}", *sizes])
    print(f"| step (D = {args.end}, {args.days} days, {landing_options}) | wall s | CPU s | peak RSS MiB |")
    print("|---|---:|---:|---:|")
    for name, seconds, peak, cpu in rows:
        print(f"| {name} | {seconds:.1f} | {cpu:.1f} | {peak:.0f} |")
    print(f"\nextending to D+1 added {len(after) - len(before)} files and changed {len(changed)}")
    wall, cpu = rows[3][1] / rows[1][1], rows[3][3] / rows[1][3]
    print(f"second night / first night wall time: {wall:.2f}, CPU time {cpu:.2f}")
    print("\n| part of the night | night D s | night D+1 s |\n|---|---:|---:|")
    for label in steps[0]:
        print(f"| {label} | {steps[0][label]:.1f} | {steps[1][label]:.1f} |")
    print(f"| dbt parses of the whole project | {parses[0]} | {parses[1]} |")
    if changed:
        raise SystemExit(f"files changed by the extension: {', '.join(sorted(changed)[:10])}")


if __name__ == "__main__":
    main()
