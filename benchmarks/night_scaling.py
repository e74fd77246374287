"""The nightly forecast step at supplier sizes: wall time with and without the executor's start, peak memory and
series/s, on this machine's process pool and on a local Dask cluster of 1 and 2 workers, with ratios against the
local path measured in the same run.

For each size a synthetic warehouse (`synthetic_sales.py`: two years of daily sales per series, a realistic mix of
smooth, intermittent, lumpy and short series, stock-outs) is written once; then each compute target forecasts it
in a child process of its own, exactly as the nightly asset does (`forecast_warehouse`: series numbered in SQL,
read a chunk at a time, forecast, written in one transaction). Each child reports its wall time, its own peak RSS
(`VmHWM` in `/proc/self/status`: the run process, what the chunking bounds; `getrusage` would also count the
process it was forked from, as Linux keeps the peak across `exec`) and the largest RSS any of its worker processes
reached (process-pool workers, or the Dask nannies and workers, sampled every 0.2 s). Warehouses are written by a
child too, so no measured process starts from a large parent. `--before` also runs, at sizes up to
2,000 series, the whole-frame path the asset used before (all history in one pandas frame, a Python string id per
row), as the memory baseline.

Each child also splits its wall time. `open s` is the time spent opening the executor that `forecast_warehouse`
opens through `open_executor` once the night's series are counted: for a Dask target the enter of
`ForecastCompute.executor`'s context, where the `LocalCluster` starts its scheduler and workers and returns once
every worker has registered, and the client connects; for the local pool only the `ProcessPoolExecutor` built, as
its worker processes start with the first chunks submitted; 0 when the local path forecasts in process (too few
series for workers). `close s` is the exit of that context (the cluster or pool shut down). `after open s` is the
wall time less both: numbering and reading the series, forecasting and writing, what a night pointed at an
already running scheduler (an address as target) would still pay. It is not quite that night's figure: (1) the
workers are ready to take tasks when the context enters, but they import the forecasting modules on their first
task (about 2 s here, both workers at once), and the pool's workers start their interpreters after the enter,
both in `after open s`, where a long-running cluster has done it before; (2) the Dask scheduler runs in the run
process here and competes with the forecast for the same cores, where a remote one would not. `vs local` is each
target's series/s against the local path's, for the whole wall time and for `after open s`.

    .venv/bin/python benchmarks/night_scaling.py [--sizes 1000 10000] [--with-100k] [--before] [--chunk-series 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BUSINESS_DATE = date(2026, 3, 31)
HORIZON = 28
HISTORY_DAYS = 730
TARGETS = {
    "local": "local",
    "dask, 1 worker": "local-cluster:1",
    "dask, 2 workers": "local-cluster:2",
}
BEFORE = "whole frame (before)"
BEFORE_MAX_SERIES = 2000


def _own_peak_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _WorkerPeak(threading.Thread):
    """The largest RSS of any descendant process, sampled until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_mib = 0.0
        self.stopped = threading.Event()

    def run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self.stopped.wait(0.2):
            for child in me.children(recursive=True):
                try:
                    self.peak_mib = max(self.peak_mib, child.memory_info().rss / 2**20)
                except psutil.Error:
                    continue


class _TimedOpen:
    """`open_executor`'s context manager, timed: its enter (a Dask cluster's scheduler and workers started and
    registered, the client connected) and its exit (the cluster or pool shut down)."""

    def __init__(self, opened) -> None:
        self.opened = opened
        self.enter_seconds = 0.0
        self.exit_seconds = 0.0

    def __enter__(self):
        started = time.perf_counter()
        try:
            return self.opened.__enter__()
        finally:
            self.enter_seconds = time.perf_counter() - started

    def __exit__(self, *exc_info):
        started = time.perf_counter()
        try:
            return self.opened.__exit__(*exc_info)
        finally:
            self.exit_seconds = time.perf_counter() - started


def _child(warehouse: str, target: str, chunk_series: int) -> dict:
    import duckdb

    from forecasts.forecasting.engine import useful_workers
    from forecasts.forecasting.levels import LOCATION
    from forecasts.forecasting.warehouse_forecast import forecast_warehouse
    from orchestration.runtime.resources import ForecastCompute

    sampler = _WorkerPeak()
    sampler.start()
    opened: list[_TimedOpen] = []

    def open_executor(compute: ForecastCompute, series: int, local_processes: int) -> _TimedOpen:
        opened.append(_TimedOpen(compute.executor(useful_workers(series, local_processes))))
        return opened[-1]

    started = time.perf_counter()
    with duckdb.connect(warehouse) as conn:
        partners = [
            row[0]
            for row in conn.execute(
                "select partner_id from quality.partner_data_gate where status <> 'held' order by 1"
            ).fetchall()
        ]
        if target == BEFORE:
            rows, series = _whole_frame(conn, partners)
        else:
            compute = ForecastCompute(target=target)
            local_processes = max(1, min(os.cpu_count() or 1, 4))
            night = forecast_warehouse(
                conn,
                partners=partners,
                as_of_date=BUSINESS_DATE,
                history_days=HISTORY_DAYS,
                horizon=HORIZON,
                level=LOCATION,
                run_id="benchmark",
                open_executor=lambda n: open_executor(compute, n, local_processes),
                chunk_series=chunk_series,
            )
            rows, series = night.rows, night.series
    seconds = time.perf_counter() - started
    sampler.stopped.set()
    return {
        "seconds": seconds,
        "open_seconds": sum(timed.enter_seconds for timed in opened),
        "close_seconds": sum(timed.exit_seconds for timed in opened),
        "series": series,
        "rows": rows,
        "rss_mib": _own_peak_mib(),
        "workers_rss_mib": sampler.peak_mib,
    }


def _whole_frame(conn, partners: list[str]) -> tuple[int, int]:
    """The forecast as the asset ran it before: the whole window in one frame, a string id built per row."""
    from datetime import timedelta

    from forecasts.forecasting.engine import forecast_many
    from forecasts.forecasting.forecast_history import SERIES_SEPARATOR, save_forecast, series_id_for
    from forecasts.forecasting.levels import LOCATION, aggregate_history, split_to_locations

    history = conn.execute(
        """select partner_id, location_id, product_id, sales_date as date, units_sold as qty, is_stockout as censored
           from marts.fct_sales_daily
           where partner_id in (select unnest(?::varchar[])) and sales_date between ? and ?
           order by partner_id, location_id, product_id, sales_date""",
        [partners, BUSINESS_DATE - timedelta(days=HISTORY_DAYS - 1), BUSINESS_DATE],
    ).df()
    countries = dict(conn.execute("select partner_id, country from marts.dim_partner").fetchall())
    history["series_id"] = series_id_for(history)
    series = aggregate_history(history, LOCATION)
    ids = series["series_id"].unique()
    forecast = forecast_many(
        series,
        horizon=HORIZON,
        countries={sid: countries.get(sid.split(SERIES_SEPARATOR, 1)[0]) for sid in ids},
        n_jobs=max(1, min(os.cpu_count() or 1, 4)),
    )
    forecast = split_to_locations(forecast, history, LOCATION)
    return save_forecast(conn, forecast, as_of_date=BUSINESS_DATE, run_id="benchmark"), len(ids)


def _measure(warehouse: Path, target: str, chunk_series: int) -> dict:
    command = [sys.executable, __file__, "--child", str(warehouse), target, "--chunk-series", str(chunk_series)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{target} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--with-100k", action="store_true", help="add 100,000 series (about an hour here)")
    parser.add_argument("--before", action="store_true", help=f"add the whole-frame path up to {BEFORE_MAX_SERIES}")
    parser.add_argument("--chunk-series", type=int, default=1000)
    parser.add_argument("--child", nargs=2, metavar=("WAREHOUSE", "TARGET"), help=argparse.SUPPRESS)
    parser.add_argument("--build", nargs=2, metavar=("WAREHOUSE", "SERIES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child[0], args.child[1], args.chunk_series)))
        return
    if args.build:
        from benchmarks.synthetic_sales import build_sales_warehouse

        build_sales_warehouse(Path(args.build[0]), int(args.build[1]), BUSINESS_DATE)
        return

    sizes = [*args.sizes, *([100_000] if args.with_100k else [])]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; chunk of {args.chunk_series}")
    print(
        "| series | compute | wall s | series/s | vs local | open s | close s | after open s | series/s after open "
        "| vs local after open | run process peak RSS MiB | largest worker RSS MiB |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="night-scaling-") as folder:
        for size in sizes:
            warehouse = Path(folder) / f"w{size}.duckdb"
            subprocess.run([sys.executable, __file__, "--build", str(warehouse), str(size)], check=True)
            targets = dict(TARGETS)
            if args.before and size <= BEFORE_MAX_SERIES:
                targets[BEFORE] = BEFORE
            local_rate = local_after_rate = None
            for label, target in targets.items():
                result = _measure(warehouse, target, args.chunk_series)
                after = result["seconds"] - result["open_seconds"] - result["close_seconds"]
                rate, after_rate = result["series"] / result["seconds"], result["series"] / after
                local_rate, local_after_rate = local_rate or rate, local_after_rate or after_rate
                print(
                    f"| {size:,} ({result['series']:,} planned) | {label} | {result['seconds']:.1f} | {rate:.0f} | "
                    f"{rate / local_rate:.2f}x | {result['open_seconds']:.1f} | {result['close_seconds']:.1f} | "
                    f"{after:.1f} | {after_rate:.0f} | {after_rate / local_after_rate:.2f}x | "
                    f"{result['rss_mib']:.0f} | {result['workers_rss_mib']:.0f} |",
                    flush=True,
                )
            warehouse.unlink()
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
