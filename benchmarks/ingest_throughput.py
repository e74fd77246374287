"""Ingest throughput: our parse + validate + load of a large partner CSV against DuckDB's bare ``read_csv``.

All sides read the same generated file (Redwood Grocers' sales dialect, one million lines by default) into a
fresh in-memory DuckDB, in the same run, alternating, best of ``--repeat``:

- baseline: ``create table ... as select * from read_csv(file)``, DuckDB's own sniffing loader;
- ours: ``ingest_landing`` on a landing folder holding that one file: content hash, ledger lookups, the
  partner's column mapping, per-line validation (dates, numbers, flags, required values) with rejects, the typed
  insert into ``raw.sales``, the ledger row and the supersede check, all in one transaction. UTF-8 delimited
  files take DuckDB's reader (``assets.feeds.loading.delimited_duckdb``);
- ours on the pandas path: the same with that reader switched off, as GBK or UTF-16 files and files it cannot
  vouch for are loaded;
- ours on a file with rejects: the same file with one line in a thousand carrying an impossible date. DuckDB's
  reader skips those lines (their dates do not convert), the other rows are numbered around them, and their
  lines go through the pandas pipeline for the reject reasons.

Run: ``.venv/bin/python benchmarks/ingest_throughput.py [--rows 1000000] [--repeat 3]``. Prints the rates and
the ratios (the goal is ours at least half as fast as the bare load).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from assets.feeds.loading import loader  # noqa: E402
from assets.feeds.loading.delimited_duckdb import NativeReadUnsupported  # noqa: E402
from assets.feeds.loading.loader import ingest_landing  # noqa: E402
from assets.feeds.partner_config import load_partner_configs  # noqa: E402

PARTNER_ID = "redwood_grocers"
STORES = ("1042", "1107", "2231", "3310", "4471", "5120", "6001", "7310")


def write_sales_file(path: Path, rows: int, seed: int = 7, bad_every: int | None = None) -> None:
    """A Redwood-style daily sales export: stores x UPCs x days, realistic value spread, a few promo lines.

    ``bad_every``: every so many lines, a date that is not one (month 13), which the loader rejects.
    """
    rng = np.random.default_rng(seed)
    upcs = np.array([f"084215{number:05d}" for number in range(1, 401)])
    upcs = np.array([upc + _check_digit(upc) for upc in upcs])
    days = pd.date_range("2023-01-01", periods=900, freq="D").strftime("%Y-%m-%d").to_numpy()
    sold = rng.negative_binomial(2, 0.3, rows)
    frame = pd.DataFrame(
        {
            "store_nbr": np.array(STORES)[rng.integers(0, len(STORES), rows)],
            "upc": upcs[rng.integers(0, len(upcs), rows)],
            "business_date": days[rng.integers(0, len(days), rows)],
            "units_sold": sold,
            "units_returned": (rng.random(rows) < 0.02).astype(int),
            "net_sales_usd": np.round(sold * rng.uniform(0.8, 12.0, rows), 2),
            "on_promo": np.where(rng.random(rows) < 0.1, "Y", "N"),
        }
    )
    if bad_every:
        frame.loc[bad_every - 1 :: bad_every, "business_date"] = "2024-13-01"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")


def _check_digit(digits: str) -> str:
    total = sum(int(digit) * (3 if index % 2 == 0 else 1) for index, digit in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def time_read_csv(path: Path) -> tuple[float, int]:
    conn = duckdb.connect()
    try:
        started = time.perf_counter()
        conn.execute(f"create table bare_sales as select * from read_csv('{path.as_posix()}')")
        elapsed = time.perf_counter() - started
        loaded = conn.execute("select count(*) from bare_sales").fetchone()[0]
    finally:
        conn.close()
    return elapsed, loaded


@contextmanager
def pandas_path_only():
    """Every delimited file takes the pandas path, as one the native reader cannot vouch for does."""

    def refuse(*_args, **_kwargs):
        raise NativeReadUnsupported("switched off by the benchmark")

    original = loader.plan_native_read
    loader.plan_native_read = refuse
    try:
        yield
    finally:
        loader.plan_native_read = original


def time_ours(landing: Path, configs: dict, *, native: bool = True) -> tuple[float, int, int]:
    if not native:
        with pandas_path_only():
            return time_ours(landing, configs)
    conn = duckdb.connect()
    try:
        started = time.perf_counter()
        report = ingest_landing(conn, landing, configs, now=datetime(2025, 7, 1, 2))
        elapsed = time.perf_counter() - started
        (outcome,) = report.outcomes
        if outcome.status != "loaded":
            raise RuntimeError(f"benchmark file was not loaded: {outcome.status} {outcome.reason}")
        loaded = conn.execute("select count(*) from raw.sales").fetchone()[0]
    finally:
        conn.close()
    return elapsed, loaded, outcome.rejected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="data lines in the generated CSV")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each side; the best counts")
    args = parser.parse_args(argv)
    configs = load_partner_configs(PROJECT_ROOT / "data" / "partners")
    bad_every = 1000
    with tempfile.TemporaryDirectory(prefix="cmi-bench-") as folder:
        landing = Path(folder) / "landing"
        path = landing / PARTNER_ID / "sales_20230101_20250619.csv"
        write_sales_file(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        with_rejects = Path(folder) / "with_rejects"
        write_sales_file(with_rejects / PARTNER_ID / path.name, args.rows, bad_every=bad_every)
        bad = args.rows // bad_every
        times: dict[str, list[float]] = {"baseline": [], "ours": [], "pandas": [], "rejects": []}
        for _ in range(args.repeat):
            elapsed, loaded = time_read_csv(path)
            times["baseline"].append(elapsed)
            assert loaded == args.rows, loaded
            elapsed, loaded, rejected = time_ours(landing, configs)
            times["ours"].append(elapsed)
            assert (loaded, rejected) == (args.rows, 0), (loaded, rejected)
            elapsed, loaded, rejected = time_ours(landing, configs, native=False)
            times["pandas"].append(elapsed)
            assert (loaded, rejected) == (args.rows, 0), (loaded, rejected)
            elapsed, loaded, rejected = time_ours(with_rejects, configs)
            times["rejects"].append(elapsed)
            assert (loaded, rejected) == (args.rows - bad, bad), (loaded, rejected)
    best = {side: min(values) for side, values in times.items()}
    baseline = best["baseline"]
    print(f"file: {args.rows:,} lines, {size_mb:.1f} MB ({PARTNER_ID} sales dialect), best of {args.repeat}")
    labels = {
        "baseline": "duckdb read_csv into a table",
        "ours": "ours: parse + validate + load",
        "pandas": "ours on the pandas path",
        "rejects": f"ours, 1 line in {bad_every} rejected",
    }
    for side, label in labels.items():
        print(f"{label:<36}{best[side]:7.3f} s  {args.rows / best[side]:>12,.0f} rows/s")
    print(f"ratio ours / read_csv               {baseline / best['ours']:7.2f}   (goal: at least 0.50)")
    print(f"ratio pandas path / read_csv        {baseline / best['pandas']:7.2f}")
    print(f"ratio ours with rejects / read_csv  {baseline / best['rejects']:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
