"""Where the nightly forecast spends its time per series, on a warehouse a nightly run has built.

Runs the nightly's `forecast_warehouse` with the asset's settings (location level, 730 days of history, a 28-day
horizon, chunks of 1,000 series, promotions) on a copy of the warehouse, in this one process (or, with `--workers
N`, its chunks on N spawned worker processes), and prints the series per second, the wall time split by phase (each
phase's own time, nested phases taken out; in this process only) and, with `--profile`, cProfile's top entries by
cumulative and by own time. `--dump FILE` writes the night's forecast rows (key order, without `run_id` and
`created_at`) to Parquet, so two trees' forecasts can be compared row by row (`--compare`).

    cmi demo --end 2025-06-30 --locations-per-partner 10 --products 50 --out /tmp/fcprof/landing
    cmi run --as-of 2025-06-30 --landing /tmp/fcprof/landing --warehouse /tmp/fcprof/w.duckdb
    .venv/bin/python benchmarks/forecast_profile.py /tmp/fcprof/w.duckdb 2025-06-30 [--profile] [--dump a.parquet] \
        [--workers 2]
    .venv/bin/python benchmarks/forecast_profile.py --compare a.parquet b.parquet
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import pstats
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from assets.forecasts import HISTORY_DAYS, HORIZON_DAYS  # noqa: E402
from assets.quality import plannable_partners  # noqa: E402
from forecasts.forecasting import engine, levels, models, warehouse_forecast  # noqa: E402

# (module, function name, phase): each phase's time is the wall time inside its functions less the time inside
# another timed function they call, so the phases and "other" add up to the whole.
TIMED = [
    (warehouse_forecast, "night_choices", "model choice (sample read, features and backtests)"),
    (warehouse_forecast, "_chunk_rows", "reading: sales rows"),
    (warehouse_forecast, "chunk_promotions", "reading: promotion days"),
    (warehouse_forecast, "_monthly_series", "reading: buckets and countries"),
    (warehouse_forecast, "_countries", "reading: buckets and countries"),
    (warehouse_forecast, "aggregate_chunk", "features: level and promotion columns"),
    (warehouse_forecast, "with_promotions", "features: level and promotion columns"),
    (engine, "regular_series", "features: regular series per series"),
    (engine, "_future_values", "features: regular series per series"),
    (engine, "values_on_days", "features: regular series per series"),
    (engine, "classify_demand", "classification"),
    (models, "prophet_fit_predict", "fit: prophet"),
    (models, "tsb_forecast", "fit: tsb"),
    (models, "seasonal_naive_forecast", "fit: baselines"),
    (models, "moving_average_forecast", "fit: baselines"),
    (models, "zero_forecast", "fit: baselines"),
    (warehouse_forecast, "split_chunk", "post-processing: split to locations"),
    (warehouse_forecast, "_insert", "writing"),
    (warehouse_forecast, "_keep_samples", "post-processing: samples for metadata"),
]
KEY_COLUMNS = ["series_id", "forecast_date"]


def _install_timers(totals: dict[str, float]) -> None:
    stack: list[list[float]] = []

    def timed(function, phase):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            stack.append([0.0])
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                nested = stack.pop()[0]
                totals[phase] += elapsed - nested
                if stack:
                    stack[-1][0] += elapsed

        return wrapper

    for module, name, phase in TIMED:
        if hasattr(module, name):  # an older tree may lack a function: its time stays in "other"
            setattr(module, name, timed(getattr(module, name), phase))


def run(warehouse: Path, as_of: date, profile: bool, dump: Path | None, top: int, workers: int) -> None:
    with tempfile.TemporaryDirectory(prefix="fcprof-") as scratch:
        copy = Path(scratch) / "w.duckdb"
        shutil.copy(warehouse, copy)
        conn = duckdb.connect(str(copy))
        partners = plannable_partners(conn, as_of)
        totals: dict[str, float] = defaultdict(float)
        if not profile:
            _install_timers(totals)
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        # Worker processes as the local compute opens them for a night of thousands of series (timers and cProfile
        # then see this process only: the fits run in the workers).
        pool = engine.ProcessPool(workers) if workers > 1 else contextlib.nullcontext()
        with pool as executor:
            night = warehouse_forecast.forecast_warehouse(
                conn,
                partners=partners,
                as_of_date=as_of,
                history_days=HISTORY_DAYS,
                horizon=HORIZON_DAYS,
                level=levels.LOCATION,
                run_id="profile",
                executor=executor,
            )
        if profiler is not None:
            profiler.disable()
        wall = time.perf_counter() - started
        print(
            f"{night.series} series, {night.chunks} chunks, {night.rows} rows in {wall:.2f} s: "
            f"{night.series / wall:.1f} series/s; models {dict(night.by_model.most_common())}"
        )
        if totals:
            print(f"{'phase':<56} {'s':>7} {'share':>6}")
            for phase, seconds in sorted(totals.items(), key=lambda item: -item[1]):
                print(f"{phase:<56} {seconds:7.2f} {seconds / wall:6.1%}")
            other = wall - sum(totals.values())
            print(f"{'other (engine loop, frames, concat, sql set-up)':<56} {other:7.2f} {other / wall:6.1%}")
        if profiler is not None:
            for order in ("cumulative", "tottime"):
                text = io.StringIO()
                pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(top)
                print(f"--- top {top} by {order}")
                print(text.getvalue().split("ncalls", 1)[-1].join(["   ncalls", ""]))
        if dump is not None:
            conn.execute(
                f"""copy (select * exclude (run_id, created_at) from forecasts.forecast_history
                          where as_of_date = '{as_of}' order by series_id, forecast_date)
                    to '{dump}' (format parquet)"""
            )
            rows = conn.execute(f"select count(*) from read_parquet('{dump}')").fetchone()[0]
            print(f"wrote {rows} rows to {dump}")
        conn.close()


def compare(first: Path, second: Path) -> None:
    """Same rows, same keys and texts, numbers equal to 1e-9."""
    with duckdb.connect() as reader:
        a, b = (reader.execute("select * from read_parquet(?)", [str(path)]).df() for path in (first, second))
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        raise SystemExit(f"different shape: {a.shape} {list(a.columns)} against {b.shape} {list(b.columns)}")
    worst = 0.0
    for column in a.columns:
        if pd.api.types.is_float_dtype(a[column]):
            left, right = a[column].to_numpy(dtype=float), b[column].to_numpy(dtype=float)
            same_nan = np.array_equal(np.isnan(left), np.isnan(right))
            gap = float(np.nanmax(np.abs(left - right), initial=0.0))
            worst = max(worst, gap)
            if not same_nan or gap > 1e-9:
                raise SystemExit(f"{column}: largest difference {gap}, same NaNs {same_nan}")
        elif not a[column].equals(b[column]):
            raise SystemExit(f"{column}: values differ")
    print(f"identical: {len(a)} rows, largest float difference {worst:g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("warehouse", type=Path, nargs="?")
    parser.add_argument("as_of", type=date.fromisoformat, nargs="?")
    parser.add_argument("--profile", action="store_true", help="cProfile instead of the phase timers")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--dump", type=Path)
    parser.add_argument("--compare", type=Path, nargs=2)
    parser.add_argument("--workers", type=int, default=1, help="chunks on this many worker processes (spawned)")
    args = parser.parse_args()
    if args.compare:
        compare(*args.compare)
    else:
        run(args.warehouse, args.as_of, args.profile, args.dump, args.top, args.workers)


if __name__ == "__main__":
    main()
