"""Peak memory and CPU of the replenishment steps on a built warehouse: this tree against a baseline tree, and the
rows each wrote.

Each measurement is a fresh child process of one tree on its own copy of the warehouse: the copy's plan of the night
is first deleted from the history, so the plan is made and written again, not found unchanged. The child runs one
asset's body (`replenishment_plan`, `exceptions` or `partner_exports`) and prints its CPU seconds, wall seconds and
peak resident set (``ru_maxrss``, the imported project included). Then the plan (every column but ``run_id`` and
``planned_at``), its explanations and the exceptions of the two copies are compared: rows in one and not the other.

Run: ``.venv/bin/python benchmarks/replenishment_memory.py --baseline /tmp/cmi-base --warehouse W.duckdb --night
2025-06-30`` (``--steps plan,exceptions,exports``, ``--block-series 5000``). The warehouse is only read; the copies
go to a temporary folder (the size of the warehouse each).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.baseline_tree import add_baseline_argument, run_child, trees  # noqa: E402

CHILD = """
import contextlib, json, resource, sys, time
tree, warehouse, step, night, out, block = sys.argv[1:7]
sys.path.insert(0, tree)
import dagster as dg
from assets import replenishment
from orchestration.runtime.resources import Artefacts, FeedFolders, Warehouse
if block != "-":
    replenishment.PLAN_BLOCK_SERIES = int(block)
context = dg.build_asset_context(partition_key=night)
resources = {"warehouse": Warehouse(path=warehouse)}
if step == "exports":
    partners = FeedFolders(partner_config_dir=tree + "/data/partners")
    resources |= {"artefacts": Artefacts(data_dir=out), "feed_folders": partners}
asset = {"plan": replenishment.replenishment_plan, "exceptions": replenishment.exceptions,
         "exports": replenishment.partner_exports}[step]
wall, cpu = time.perf_counter(), time.process_time()
with contextlib.redirect_stdout(sys.stderr):  # stdout carries the figures only
    asset(context, **resources)
print(json.dumps({"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

TABLES = {
    "replenishment.plan_history": "* exclude (run_id, planned_at)",
    "replenishment.plan_explanations": "*",
    "replenishment.exceptions": "*",
}


def differing_rows(first: Path, second: Path) -> dict[str, int]:
    """Per table, the rows of one copy that the other lacks (both ways, duplicates counted)."""
    conn = duckdb.connect()
    conn.execute(f"attach '{first}' as a (read_only true)")
    conn.execute(f"attach '{second}' as b (read_only true)")
    found = {}
    for table, columns in TABLES.items():
        one, other = (f"select {columns} from {side}.{table}" for side in ("a", "b"))
        found[table] = sum(
            conn.execute(f"select count(*) from ({left} except all {right})").fetchone()[0]
            for left, right in ((one, other), (other, one))
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_baseline_argument(parser)
    parser.add_argument("--warehouse", type=Path, required=True, help="a built warehouse (only read)")
    parser.add_argument("--night", required=True, help="the plan date, e.g. 2025-06-30")
    parser.add_argument("--steps", default="plan,exceptions,exports")
    parser.add_argument("--block-series", default="-", help="this tree's plan block size (default: its own)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        copies = {}
        for name, tree in trees(arguments.baseline).items():
            copy = Path(folder) / f"{name.replace(' ', '_')}.duckdb"
            shutil.copy(arguments.warehouse, copy)
            copy.chmod(0o644)
            with duckdb.connect(str(copy)) as conn:
                conn.execute("delete from replenishment.plan_history where plan_date = ?", [arguments.night])
            copies[name] = copy
            for step in arguments.steps.split(","):
                block = arguments.block_series if name == "this tree" else "-"
                out = str(Path(folder) / f"{name.replace(' ', '_')}_data")
                figures = run_child(CHILD, tree, str(copy), step, arguments.night, out, block)
                print(
                    f"{name:10s} {step:10s} CPU {figures['cpu_s']:6.1f} s  wall {figures['wall_s']:6.1f} s  "
                    f"peak {figures['peak_mb']:6.0f} MB",
                    flush=True,
                )
        for table, rows in differing_rows(*copies.values()).items():
            print(f"{table}: {rows} rows differ")


if __name__ == "__main__":
    main()
