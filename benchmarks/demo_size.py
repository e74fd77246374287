"""`cmi demo` at supplier sizes: wall time, peak RSS and what it wrote, one child process per size.

Each size is `--locations-per-partner L --products P` over the demo partners (the three configured ones, or
`--partners N`: N x L x P series) and two years of daily history; the landing goes to a temporary folder and is
removed after it is counted. CPU seconds (user and system) say more than the wall time on a loaded machine.

    .venv/bin/python benchmarks/demo_size.py [--sizes 4x16 20x56 60x56] [--days 730] [--partners N]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from consecutive_nights import run_cmi_usage

END = "2025-06-30"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["4x16", "20x56", "60x56"], help="LOCATIONSxPRODUCTS")
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--partners", type=int, help="partners (default: the three configured ones)")
    args = parser.parse_args()
    partners = args.partners or 3
    heading = f"series ({partners} partners x stores x products, {args.days} days)"
    print(f"| {heading} | wall s | CPU s | peak RSS MiB | files | MiB |")
    print("|---|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        locations, products = (int(part) for part in size.split("x"))
        with tempfile.TemporaryDirectory(prefix="cmi-demo-size-") as folder:
            seconds, usage = run_cmi_usage(
                [
                    *("demo", "--out", folder, "--end", END, "--days", str(args.days)),
                    *("--locations-per-partner", str(locations), "--products", str(products)),
                    *(("--partners", str(args.partners)) if args.partners else ()),
                ]
            )
            files = [path for path in Path(folder).rglob("*") if path.is_file()]
            written = sum(path.stat().st_size for path in files) / 2**20
        series = partners * locations * products
        cpu, peak = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
        counts = f"{seconds:.1f} | {cpu:.1f} | {peak:,.0f} | {len(files):,} | {written:,.0f}"
        print(f"| {series:,} ({partners} x {locations} x {products}) | {counts} |")


if __name__ == "__main__":
    main()
