"""Files per second through ``ingest_landing`` for a landing of many tiny files: this tree against a baseline tree.

Each measurement is a fresh child process that imports the loader of one source tree and ingests one generated
landing into an in-memory DuckDB, with a quarantine and an archive folder, as a night does:

- ``flood``: ``--files`` one-line files in a folder without a partner YAML (the hostile suite's "10,000 small
  files"); each is hashed, archived, quarantined (copied) and recorded. A run takes ``max_files_per_run`` (5,000)
  of them; the rest wait for the next run;
- ``loaded``: ``--loaded`` tiny valid sales files of Redwood Grocers, each for another day, which all load.

The baseline tree is another checkout of the project (``git archive <commit> | tar -x -C DIR``).

Run: ``.venv/bin/python benchmarks/landing_files.py --baseline /tmp/cmi-base [--files 10000] [--loaded 1000]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.baseline_tree import add_baseline_argument, run_child, trees  # noqa: E402

CHILD = """
import json, sys, time
from datetime import date, timedelta
sys.path.insert(0, sys.argv[1])
from pathlib import Path
import duckdb
from assets.feeds.loading.loader import ingest_landing
from assets.feeds.partner_config import load_partner_configs
kind, data, count = sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
landing = data / "landing"
if kind == "flood":
    folder = landing / "new_flood"
    folder.mkdir(parents=True)
    for number in range(count):
        (folder / f"f{number:05}.csv").write_bytes(b"x\\n")
    configs = {}
else:
    folder = landing / "redwood_grocers"
    folder.mkdir(parents=True)
    for number in range(count):
        day = date(2000, 1, 1) + timedelta(days=number)
        (folder / f"sales_{day:%Y%m%d}.csv").write_text(
            f"store_nbr,upc,business_date,units_sold\\n1042,084215010016,{day.isoformat()},{number % 9}\\n"
        )
    configs = load_partner_configs(Path(sys.argv[1]) / "data" / "partners")
with duckdb.connect() as conn:
    start = time.perf_counter()
    report = ingest_landing(conn, landing, configs, quarantine_dir=data / "quarantine", archive_dir=data / "archive")
    seconds = time.perf_counter() - start
print(json.dumps({"files": len(report.outcomes), "seconds": seconds}))
"""


def measure(tree: Path, kind: str, count: int) -> dict:
    with tempfile.TemporaryDirectory() as data:
        return run_child(CHILD, tree, kind, data, str(count))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_baseline_argument(parser)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--loaded", type=int, default=1000)
    args = parser.parse_args()
    for kind, count in (("flood", args.files), ("loaded", args.loaded)):
        rates = {}
        print(f"{kind}: {count} tiny files in the landing")
        for name, tree in trees(args.baseline).items():
            result = measure(tree, kind, count)
            rates[name] = result["files"] / result["seconds"]
            print(f"  {name:9}  {result['files']} files judged in {result['seconds']:.1f} s: {rates[name]:.0f} files/s")
        print(f"  ratio this/baseline: {rates['this tree'] / rates['baseline']:.2f}x the files per second")


if __name__ == "__main__":
    main()
