"""Peak memory of parsing one large in-limit file: this tree against a baseline tree, in the same run.

Each measurement is a fresh child process (so peaks do not mix) that imports the parsers of one source tree,
parses one generated file and reports its peak resident set (``ru_maxrss``) and the parse time. The files:

- ``x12``: a weekly X12 852 just under the default 16 MiB limit (``limits.max_file_mib.x12``), many transaction
  sets of LIN loops whose ZA*QS / ZA*QA quantities are spread over ten stores by SDQ, as a large grocer sends;
- ``edifact``: an EANCOM SLSRPT of the same size, many messages of location groups with LIN / QTY+153 lines;
- ``csv``: a Redwood-style sales CSV read by the pandas path (``parse_delimited``, the path for encodings and
  files DuckDB's reader cannot vouch for).

The baseline tree is another checkout of the project (``git archive <commit> | tar -x -C DIR``), so the ratio
compares the same files and the same interpreter. Peak RSS includes the interpreter and the imported libraries
(about 120 MB); the figure after "file" is the peak less an import-only child of the same tree.

Run: ``.venv/bin/python benchmarks/parser_memory.py --baseline /tmp/cmi-base`` (``--formats x12,csv``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.baseline_tree import add_baseline_argument, run_child, trees  # noqa: E402

STORES = tuple(str(1000 + number) for number in range(10))
TRAILER_BYTES = 64  # room left for the closing GE/IEA or UNZ

CHILD = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from assets.feeds.partner_config import FileSpec
kind, path = sys.argv[2], Path(sys.argv[3]) if len(sys.argv) > 3 else None
start = time.perf_counter()
rows = 0
if kind == "x12":
    from assets.feeds.parsers.x12 import parse_x12
    parsed = parse_x12(path, FileSpec(record_type="sales", pattern="*.x12", format="x12"), "p", "f")
    rows = parsed.rows_parsed
elif kind == "edifact":
    from assets.feeds.parsers.edifact import parse_edifact
    parsed = parse_edifact(path, FileSpec(record_type="sales", pattern="*.edi", format="edifact"), "p", "f")
    rows = parsed.rows_parsed
elif kind == "csv":
    from assets.feeds.parsers.delimited import parse_delimited
    spec = FileSpec(record_type="sales", pattern="*.csv", format="csv", date_format="%Y-%m-%d",
                    columns={"location_id": "store_nbr", "product_ref": "upc", "period_start": "business_date",
                             "units_sold": "units_sold"})
    rows = parse_delimited(path, spec, "p", "f").rows_parsed
else:
    import assets.feeds.parsers.x12, assets.feeds.parsers.edifact, assets.feeds.parsers.delimited  # noqa
seconds = time.perf_counter() - start
print(json.dumps({"peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rows": rows,
                  "seconds": seconds}))
"""


def write_x12(path: Path, size: int) -> None:
    """An 852 of many sets, each of 100 LIN loops with sold and on-hand quantities spread over ten stores."""
    with path.open("w", newline="") as out:
        out.write(
            "ISA*00*          *00*          *ZZ*REDWOODGROC    *ZZ*084215000000   *250623*0215*U*00401*"
            "000000412*0*P*>~\n"
            "GS*PD*REDWOODGROC*084215000000*20250623*0215*412*X*004010~\n"
        )
        sets, item = 0, 0
        while True:
            body = ["XQ*H*20250616*20250622"]
            for _ in range(100):
                item += 1
                body.append(f"LIN**VN*ITEM{item:08}")
                for code in ("QS", "QA"):
                    body.append(f"ZA*{code}")
                    body.append("SDQ*EA*92*" + "*".join(f"{store}*{(item + int(store)) % 97}" for store in STORES))
            body.append("CTT*100")
            segments = [f"ST*852*{sets + 1:04}", *body, f"SE*{len(body) + 2}*{sets + 1:04}"]
            text = "".join(segment + "~\n" for segment in segments)
            if sets and out.tell() + len(text) > size - TRAILER_BYTES:
                break  # the file stays within ``size`` (the limit it is named after)
            out.write(text)
            sets += 1
        out.write(f"GE*{sets}*412~\nIEA*1*000000412~\n")


def write_edifact(path: Path, size: int) -> None:
    """A SLSRPT of many messages, each of ten location groups holding 100 LIN / QTY+153 lines."""
    with path.open("w", newline="") as out:
        out.write("UNA:+.? 'UNB+UNOC:3+4012345000009:14+4098765000002:14+250630:0200+REF1'\n")
        messages, item = 0, 0
        while True:
            body = ["BGM+73E+SR1+9", "DTM+137:20250630:102", "DTM+90:20250629:102", "DTM+91:20250629:102"]
            for store in STORES:
                body.append(f"LOC+162+{store}::92")
                for line in range(100):
                    item += 1
                    body.append(f"LIN+{line + 1}++ITEM{item:08}:VN")
                    body.append(f"QTY+153:{item % 97}")
            number = messages + 1
            segments = [f"UNH+{number}+SLSRPT:D:96A:UN:EAN004", *body, f"UNT+{len(body) + 2}+{number}"]
            text = "".join(segment + "'\n" for segment in segments)
            if messages and out.tell() + len(text) > size - TRAILER_BYTES:
                break
            out.write(text)
            messages = number
        out.write(f"UNZ+{messages}+REF1'\n")


def write_csv(path: Path, size: int) -> None:
    with path.open("w") as out:
        out.write("store_nbr,upc,business_date,units_sold\n")
        line = 0
        while out.tell() < size:
            lines = []
            for _ in range(10_000):
                line += 1
                lines.append(f"{STORES[line % 10]},ITEM{line:08},2025-06-{1 + line % 28:02},{line % 97}\n")
            out.write("".join(lines))


WRITERS = {"x12": (write_x12, 16 << 20, ".x12"), "edifact": (write_edifact, 16 << 20, ".edi")}
WRITERS["csv"] = (write_csv, 128 << 20, ".csv")


# Ingestion of one row-dense 852 in a child capped as README "Memory bound" says, with the tree's partner configs.
INGEST_CHILD = """
import json, resource, shutil, sys
sys.path.insert(0, sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
from pathlib import Path
import duckdb
from assets.feeds.loading.loader import ingest_landing
from assets.ingest import partner_configs_for  # what ingestion imports (Dagster too), as the memory test does
root = Path(sys.argv[3])
(root / "landing" / "redwood_grocers").mkdir(parents=True)
shutil.copy(sys.argv[2], root / "landing" / "redwood_grocers" / "852_20250630.x12")
configs, _ = partner_configs_for(Path(sys.argv[1]) / "data" / "partners", [])
try:
    with duckdb.connect(str(root / "warehouse.duckdb")) as conn:  # a file, as the warehouse is: DuckDB spills there
        report = ingest_landing(conn, root / "landing", configs, quarantine_dir=root / "quarantine")
    outcome = report.outcomes[0].status + (": " + report.outcomes[0].reason if report.outcomes[0].reason else "")
except Exception as error:
    outcome = "the run failed: " + type(error).__name__ + ": " + str(error)[:200]
status = open("/proc/self/status").read().splitlines()
print(json.dumps({{"outcome": outcome[:300], "peak": [line for line in status if line.startswith("VmPeak")][0]}}))
"""
INGEST_CAP = 1536 << 20


def ingest(compared: dict[str, Path], sizes: list[int]) -> None:
    """Each in-limit row-dense 852 of ``sizes`` MiB ingested by each tree under the address-space cap."""
    with tempfile.TemporaryDirectory() as scratch:
        for mib in sizes:
            path = Path(scratch) / f"852_{mib}.x12"
            write_x12(path, mib << 20)
            print(f"ingest under RLIMIT_AS {INGEST_CAP >> 20} MiB: 852 of {path.stat().st_size / (1 << 20):.1f} MiB")
            for name, tree in compared.items():
                root = Path(scratch) / f"{mib}-{name.replace(' ', '_')}"
                argv = [sys.executable, "-c", INGEST_CHILD.format(cap=INGEST_CAP), str(tree), str(path), str(root)]
                done = subprocess.run(argv, capture_output=True, text=True, check=False)
                result = json.loads(done.stdout) if done.returncode == 0 else {"outcome": done.stderr[-300:]}
                print(f"  {name:9}  {result['outcome']}  {result.get('peak', '')}")


def measure(tree: Path, kind: str, path: Path | None) -> dict:
    return run_child(CHILD, tree, kind, *([str(path)] if path else []))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_baseline_argument(parser)
    parser.add_argument("--formats", default="x12,edifact,csv")
    parser.add_argument("--ingest", help="instead: ingest row-dense 852s of these sizes in MiB (e.g. 4,8,10)")
    args = parser.parse_args()
    compared = trees(args.baseline)
    if args.ingest:
        ingest(compared, [int(size) for size in args.ingest.split(",")])
        return
    with tempfile.TemporaryDirectory() as scratch:
        imports = {name: measure(tree, "imports", None)["peak_mib"] for name, tree in compared.items()}
        for kind in args.formats.split(","):
            writer, size, suffix = WRITERS[kind]
            path = Path(scratch) / f"large{suffix}"
            writer(path, size)
            mib = path.stat().st_size / (1 << 20)
            results = {name: measure(tree, kind, path) for name, tree in compared.items()}
            print(f"{kind}: {mib:.1f} MiB file")
            for name, result in results.items():
                file_part = result["peak_mib"] - imports[name]
                print(
                    f"  {name:9}  peak {result['peak_mib']:7.0f} MiB  (file {file_part:6.0f} MiB, "
                    f"{file_part / mib:4.1f}x the file)  {result['rows']} rows  {result['seconds']:.1f} s"
                )
            base, ours = results["baseline"], results["this tree"]
            file_ratio = (ours["peak_mib"] - imports["this tree"]) / (base["peak_mib"] - imports["baseline"])
            print(
                f"  ratio this/baseline: peak {ours['peak_mib'] / base['peak_mib']:.2f}, file part {file_ratio:.2f}, "
                f"time {ours['seconds'] / base['seconds']:.2f}"
            )


if __name__ == "__main__":
    main()
