"""The nightly report's body (``read_report_inputs`` + ``render_report``) on a finished warehouse: this tree against
a baseline tree, in the same run, alternating.

Each measurement is a fresh child process on its own copy of the warehouse (the report opens it read-only, but
DuckDB may still write its WAL next to it; the original is never opened). The child imports the report of its
tree, notes its peak RSS after the imports, reads and renders the business date's report into a temporary folder
and prints wall and CPU seconds, the peak RSS, the pages written and the folder's size.

Run: ``.venv/bin/python benchmarks/report_size.py --baseline /tmp/cmi-base --warehouse W.duckdb --date 2025-06-30``
(the baseline a ``git archive <commit> | tar -x -C DIR`` checkout; ``--rounds 2`` for two pairs).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.baseline_tree import add_baseline_argument, run_child, trees  # noqa: E402

CHILD = """
import json, os, resource, sys, time
sys.path.insert(0, sys.argv[1])
stdout = os.dup(1)
os.dup2(2, 1)  # DuckDB's progress bar writes to the process's stdout: only the JSON goes there
from datetime import date
from pathlib import Path
import duckdb
from assets.reports import read_report_inputs
from assets.renderers.report import render_report
imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
warehouse, day, out = sys.argv[2], date.fromisoformat(sys.argv[3]), Path(sys.argv[4])
wall, cpu = time.perf_counter(), time.process_time()
with duckdb.connect(warehouse, read_only=True) as conn:
    inputs = read_report_inputs(conn, day, "benchmark")
render_report(inputs, out)
os.dup2(stdout, 1)
print(json.dumps({
    "wall_s": time.perf_counter() - wall,
    "cpu_s": time.process_time() - cpu,
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "rss_after_imports_mb": imported / 1024,
    "item_pages": sum(1 for _ in (out / "items").iterdir()),
    "folder_mb": sum(path.stat().st_size for path in out.rglob("*") if path.is_file()) / 1e6,
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_baseline_argument(parser)
    parser.add_argument("--warehouse", type=Path, required=True, help="a warehouse after the night (not modified)")
    parser.add_argument("--date", required=True, help="the night's business date, YYYY-MM-DD")
    parser.add_argument("--rounds", type=int, default=1)
    arguments = parser.parse_args()
    print("| tree | round | wall s | CPU s | peak RSS MB | after imports MB | item pages | folder MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for round_number in range(1, arguments.rounds + 1):
        for name, tree in trees(arguments.baseline).items():
            with tempfile.TemporaryDirectory() as scratch:
                copy = Path(scratch) / "warehouse.duckdb"
                shutil.copyfile(arguments.warehouse, copy)
                result = run_child(CHILD, tree, str(copy), arguments.date, str(Path(scratch) / "report"))
            print(
                f"| {name} | {round_number} | {result['wall_s']:.1f} | {result['cpu_s']:.1f} | "
                f"{result['peak_rss_mb']:,.0f} | {result['rss_after_imports_mb']:,.0f} | {result['item_pages']} | "
                f"{result['folder_mb']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
