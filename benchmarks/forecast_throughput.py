"""Forecast throughput: the engine against a naive loop of default Prophet fits, in one run on the same data.

The data mirrors the demo partner feeds (``assets/feeds/demo``): per store and product a daily demand with a
weekday pattern, a yearly season and a trend, negative-binomial noise; about a quarter slow movers; a few new
products with a short history; some series with a stretch of stock-out days (censored: sales are zero, demand
is not). Every series is forecast 28 days past its history and scored against the 28 days that follow.

Methods, all timed in this process on the same series:

- ``naive``: a loop fitting ``prophet.Prophet()`` with its defaults (1000 uncertainty draws) on every series,
  stock-out days given as missing values — the baseline;
- ``prophet, no sampling``: the same loop with ``uncertainty_samples=0``, to show what sampling costs;
- ``engine Prophet via Stan, every series``: the engine's Prophet (``models.prophet_fit_predict``) with
  ``optimizer="stan"`` — the same model, design built in numpy, Prophet's Stan program run through CmdStan —
  on every series, to show what leaving out the package's pandas layer and the sampling saves;
- ``engine Prophet, every series``: the same with the default numpy MAP solver, to show what the solver saves;
- ``engine``: ``forecast_many`` in one process (routing by demand class, Prophet only where it is needed, each
  class's model chosen by a backtest on the class, ``model_choice``), and the same without the choice;
- ``engine, N processes``: the same fanned out over worker processes, spawn start-up included. The engine only
  starts workers for 1000 series each (``engine.MIN_SERIES_PER_WORKER``); here they are forced, to measure them.

Series per second are ratios against the naive loop in the same run; WAPE = Σ|y − ŷ| / Σy over all series
and days of the 28-day test window (p50 against actual demand). The naive loop's negative forecasts are
floored at zero before scoring, which only helps it.

    .venv/bin/python benchmarks/forecast_throughput.py [--series 200] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasts.forecasting import engine, models  # noqa: E402
from forecasts.forecasting.engine import forecast_many  # noqa: E402
from forecasts.forecasting.metrics import wape  # noqa: E402

HISTORY_DAYS = 730
HORIZON = 28
WEEKLY_PATTERN = np.array([0.9, 0.85, 0.85, 0.95, 1.15, 1.3, 1.0])
START = pd.Timestamp("2023-01-02")


def generate(n_series: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """History (``series_id, date, qty, censored``) and the test window's actual demand (``series_id, date,
    qty``) for ``n_series`` store x product series."""
    rng = np.random.default_rng(seed)
    days = HISTORY_DAYS + HORIZON
    calendar = pd.date_range(START, periods=days, freq="D")
    day_of_year = calendar.day_of_year.to_numpy()
    weekday = WEEKLY_PATTERN[calendar.day_of_week.to_numpy()] / WEEKLY_PATTERN.mean()
    elapsed_years = np.arange(days) / 365.25

    histories, actuals = [], []
    for index in range(n_series):
        slow = rng.random() < 0.25
        if slow:
            rate = rng.uniform(0.08, 0.45)
        else:
            rate = float(np.clip(rng.lognormal(np.log(5.0), 0.6), 1.5, 25.0)) * rng.uniform(0.6, 1.5)
        season = 1 + rng.uniform(0.0, 0.35) * np.cos(2 * np.pi * (day_of_year - rng.integers(0, 365)) / 365.25)
        trend = np.exp(rng.uniform(-0.15, 0.25) * elapsed_years)
        expected = rate * weekday * season * trend
        dispersion = 1.0 if slow else 4.0
        demand = rng.negative_binomial(dispersion, dispersion / (dispersion + expected)).astype(float)

        first = 0
        if rng.random() < 0.08:  # a new product: listed 30 to 150 days before the forecast date
            first = HISTORY_DAYS - int(rng.integers(30, 150))
        censored = np.zeros(days, dtype=bool)
        if not slow and rng.random() < 0.12:  # a stock-out of one to three weeks somewhere in the last year
            begin = int(rng.integers(HISTORY_DAYS - 365, HISTORY_DAYS - 30))
            censored[begin : begin + int(rng.integers(7, 22))] = True
        sold = np.where(censored, 0.0, demand)

        series_id = f"S{index:04d}"
        history = slice(first, HISTORY_DAYS)
        histories.append(
            pd.DataFrame(
                {
                    "series_id": series_id,
                    "date": calendar[history],
                    "qty": sold[history],
                    "censored": censored[history],
                }
            )
        )
        actuals.append(
            pd.DataFrame({"series_id": series_id, "date": calendar[HISTORY_DAYS:], "qty": demand[HISTORY_DAYS:]})
        )
    return pd.concat(histories, ignore_index=True), pd.concat(actuals, ignore_index=True)


def _library_loop(history: pd.DataFrame, uncertainty_samples: int) -> pd.DataFrame:
    """Fit ``prophet.Prophet`` with its defaults on each series in turn; stock-out days are missing values."""
    prophet = models._prophet_module()
    results = []
    for series_id, series in history.groupby("series_id", sort=True):
        frame = pd.DataFrame({"ds": series["date"], "y": series["qty"].where(~series["censored"])})
        model = prophet.Prophet(uncertainty_samples=uncertainty_samples)
        model.fit(frame)
        future = model.make_future_dataframe(periods=HORIZON, include_history=False)
        prediction = model.predict(future)
        results.append(
            pd.DataFrame({"series_id": series_id, "date": prediction["ds"], "p50": prediction["yhat"].clip(lower=0)})
        )
    return pd.concat(results, ignore_index=True)


def _lean_prophet_loop(history: pd.DataFrame, optimizer: str = "mm") -> pd.DataFrame:
    """The engine's Prophet fit on every series, without the routing."""
    results = []
    for series_id, series in history.groupby("series_id", sort=True):
        days = models.day_numbers(series["date"])
        y = series["qty"].where(~series["censored"]).to_numpy(dtype=float)
        future = days[-1] + np.arange(1, HORIZON + 1)
        forecast = models.prophet_fit_predict(days, y, future, optimizer=optimizer)
        dates = pd.to_datetime(future.astype("datetime64[D]"))
        results.append(pd.DataFrame({"series_id": series_id, "date": dates, "p50": forecast.p50}))
    return pd.concat(results, ignore_index=True)


def _score(forecast: pd.DataFrame, actual: pd.DataFrame) -> float:
    scored = actual.merge(forecast[["series_id", "date", "p50"]], on=["series_id", "date"], how="left")
    if scored["p50"].isna().any():
        raise AssertionError("a forecast is missing for some test days")
    return wape(scored["qty"], scored["p50"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=200, help="number of series (default 200)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: CPUs)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    history, actual = generate(args.series, args.seed)
    n_series = history["series_id"].nunique()
    print(f"{n_series} series, {HISTORY_DAYS} days of history at most, horizon {HORIZON} days, {os.cpu_count()} CPUs")

    rows = []

    def measure(label: str, run) -> pd.DataFrame:
        started = time.perf_counter()
        forecast = run()
        seconds = time.perf_counter() - started
        rows.append((label, seconds, _score(forecast, actual)))
        print(f"  {label}: {seconds:.1f} s", file=sys.stderr, flush=True)
        return forecast

    models._prophet_module()  # the library's import time is not part of anyone's throughput
    measure("naive: default Prophet per series", lambda: _library_loop(history, 1000))
    measure("Prophet, uncertainty_samples=0", lambda: _library_loop(history, 0))
    measure("engine Prophet via Stan, every series", lambda: _lean_prophet_loop(history, "stan"))
    measure("engine Prophet, every series", lambda: _lean_prophet_loop(history))
    measure(
        "engine without the model choice, 1 process",
        lambda: forecast_many(history, HORIZON, n_jobs=1, choose_by_class=False),
    )
    routed = measure("engine, 1 process", lambda: forecast_many(history, HORIZON, n_jobs=1))
    if args.jobs > 1:
        engine.MIN_SERIES_PER_WORKER = 1
        measure(f"engine, {args.jobs} processes", lambda: forecast_many(history, HORIZON, n_jobs=args.jobs))

    baseline_seconds = rows[0][1]
    print()
    print("| method | series/s | speed-up vs naive | WAPE |")
    print("|---|---:|---:|---:|")
    for label, seconds, score in rows:
        print(f"| {label} | {n_series / seconds:.1f} | {baseline_seconds / seconds:.2f}x | {score:.2%} |")

    by_model = routed.drop_duplicates("series_id")["model"].value_counts()
    print()
    print("engine routing: " + ", ".join(f"{model} {count}" for model, count in by_model.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
