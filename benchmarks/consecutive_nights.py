"""Two consecutive nights on one demo landing, as a supplier lives them: wall time and peak RSS of each step.

`cmi demo --end D` writes a small demo landing and `cmi run --as-of D` runs the night on a new warehouse; then
`cmi demo --end D+1` extends the same landing (every file already there must stay byte-identical, which is checked)
and `cmi run --as-of D+1` runs the second night on the same warehouse, which loads only the new deliveries. Each
step is a child process; its peak RSS is the child's own (`wait4`).

    .venv/bin/python benchmarks/consecutive_nights.py [--end 2025-06-30] [--days 200] [--scale small]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

CMI = Path(sys.executable).parent / "cmi"


def run_cmi(arguments: list[str]) -> tuple[float, float]:
    """Run one `cmi` command; its wall seconds and peak RSS in MiB. A failing command stops the benchmark."""
    elapsed, usage = run_cmi_usage(arguments)
    return elapsed, usage.ru_maxrss / 1024


def run_cmi_usage(arguments: list[str]) -> tuple[float, os.struct_rusage]:
    """Run one `cmi` command; its wall seconds and the child's resource usage (peak RSS, CPU seconds)."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        child = subprocess.Popen([str(CMI), *arguments], stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            output.seek(0)
            raise SystemExit(f"cmi {' '.join(arguments)} failed:\n{output.read().decode()[-3000:]}")
    return elapsed, usage


def _files(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        path.relative_to(root).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in root.rglob("*")
        if path.is_file()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--end", type=date.fromisoformat, default=date(2025, 6, 30), help="first night's date")
    parser.add_argument("--days", type=int, default=200)
    parser.add_argument("--scale", choices=["small", "full"], default="small")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cmi-nights-") as folder:
        landing, warehouse = Path(folder) / "landing", Path(folder) / "warehouse.duckdb"
        demo = ["demo", "--seed", "7", "--scale", args.scale, "--out", str(landing)]
        run = ["run", "--landing", str(landing), "--warehouse", str(warehouse)]
        rows = [("demo to D", *run_cmi([*demo, "--days", str(args.days), "--end", str(args.end)]))]
        rows.append(("night D", *run_cmi([*run, "--as-of", str(args.end)])))
        before = _files(landing)
        following = args.end + timedelta(days=1)
        rows.append(("demo extended to D+1", *run_cmi([*demo, "--end", str(following)])))
        after = _files(landing)
        changed = [name for name, content in before.items() if after.get(name) != content]
        rows.append(("night D+1", *run_cmi([*run, "--as-of", str(following)])))
    print(f"| step (D = {args.end}, {args.days} days, scale {args.scale}) | wall s | peak RSS MiB |")
    print("|---|---:|---:|")
    for name, seconds, peak in rows:
        print(f"| {name} | {seconds:.1f} | {peak:.0f} |")
    print(f"\nextending to D+1 added {len(after) - len(before)} files and changed {len(changed)}")
    print(f"second night / first night wall time: {rows[3][1] / rows[1][1]:.2f}")
    if changed:
        raise SystemExit(f"files changed by the extension: {', '.join(sorted(changed)[:10])}")


if __name__ == "__main__":
    main()
