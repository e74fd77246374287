"""The peers' side of benchmarks/peers/run.py: statsforecast and mlforecast on one data set, every rolling origin.

Runs in the peers' own environment (pandas < 3), never in the project's, and imports nothing from the project. It
reads the series CSV run.py wrote (``series_id,date,qty[,censored,regressors...]``, every series on a complete grid
of periods ending on the same date), cuts it exactly as ``forecasts.forecasting.backtest.run_backtest`` does (origin
k of K trains on all but the last ``(K − k + 1)·h`` periods and forecasts the next ``h``), and writes the p50 of every
model, series, origin and period as CSV, with the seconds each model took over all origins as JSON.

Censored periods are trained on as the units sold (these libraries have no notion of a stock-out); run.py leaves them
out of the scores, as it does for the engine. Regressors are known in advance, so their values in each forecast
window are given to the one model that accepts them (LightGBM via mlforecast). Negative forecasts are clipped to 0,
as the engine's are. Everything runs on one thread.

    benchmarks/peers/.venv/bin/python benchmarks/peers/peer_models.py --input CSV --freq W-FRI --horizon 13 \
        --origins 2 --season 52 --lags 1,2,4,52 --output FORECASTS.csv --timings TIMINGS.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from lightgbm import LGBMRegressor  # noqa: E402
from mlforecast import MLForecast  # noqa: E402
from mlforecast.lag_transforms import RollingMean  # noqa: E402
from statsforecast import StatsForecast  # noqa: E402
from statsforecast.models import (  # noqa: E402
    ADIDA,
    TSB,
    AutoETS,
    CrostonOptimized,
    CrostonSBA,
    Naive,
    SeasonalNaive,
)

# TSB in statsforecast takes fixed smoothing constants; 0.1 for both is the usual default in the literature.
TSB_ALPHA_D = 0.1
TSB_ALPHA_P = 0.1
LIGHTGBM_PARAMS = {
    "n_estimators": 300,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 20,
    "num_threads": 1,
    "verbosity": -1,
    "random_state": 0,
}


def week_of_year(dates: pd.DatetimeIndex) -> np.ndarray:
    return dates.isocalendar().week.to_numpy(dtype=int)


DATE_FEATURES = {
    "D": ["dayofweek", "month", "dayofyear"],
    "W": ["month", week_of_year],
    "M": ["month"],
}


def statistical_models(season: int) -> dict[str, object]:
    return {
        "AutoETS": AutoETS(season_length=season),
        "CrostonSBA": CrostonSBA(),
        "CrostonOptimized": CrostonOptimized(),
        "TSB": TSB(alpha_d=TSB_ALPHA_D, alpha_p=TSB_ALPHA_P),
        "ADIDA": ADIDA(),
        "SeasonalNaive": SeasonalNaive(season_length=season),
        "Naive": Naive(),
    }


def windows(frame: pd.DataFrame, horizon: int, origins: int):
    """(origin date, training rows, forecast-window rows) for each origin, oldest first."""
    dates = np.sort(frame["ds"].unique())
    for origin in range(origins):
        held_out = (origins - origin) * horizon
        cutoff = dates[-held_out - 1]
        window_end = dates[-held_out + horizon - 1]
        train = frame[frame["ds"] <= cutoff]
        future = frame[(frame["ds"] > cutoff) & (frame["ds"] <= window_end)]
        yield pd.Timestamp(cutoff), train, future


def run_statistical(name: str, model, train: pd.DataFrame, horizon: int, freq: str) -> pd.DataFrame:
    engine = StatsForecast(models=[model], freq=freq, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        forecast = engine.forecast(df=train[["unique_id", "ds", "y"]], h=horizon)
    return forecast.rename(columns={forecast.columns[-1]: "p50"})[["unique_id", "ds", "p50"]]


def run_lightgbm(
    train: pd.DataFrame, future: pd.DataFrame, horizon: int, freq: str, family: str, lags: list[int], regressors
) -> pd.DataFrame:
    """One global LightGBM model over all series on lags, a rolling mean, date features and the regressors."""
    forecaster = MLForecast(
        models={"lgbm": LGBMRegressor(**LIGHTGBM_PARAMS)},
        freq=freq,
        lags=lags,
        lag_transforms={1: [RollingMean(window_size=max(lags[:3]))]},
        date_features=DATE_FEATURES[family],
        num_threads=1,
    )
    columns = ["unique_id", "ds", "y", *regressors]
    future_values = future[["unique_id", "ds", *regressors]] if regressors else None
    with warnings.catch_warnings():
        # Series shorter than the longest lag (new products) have missing lags, which LightGBM handles, and those
        # without a full row of features drop out of training; they are still forecast.
        warnings.filterwarnings("ignore", message="Found null values")
        warnings.filterwarnings("ignore", message="The following series were dropped")
        forecaster.fit(train[columns], static_features=[])
        forecast = forecaster.predict(h=horizon, X_df=future_values)
    return forecast.rename(columns={"lgbm": "p50"})[["unique_id", "ds", "p50"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--freq", required=True, help="pandas frequency: D, W-FRI, MS ...")
    parser.add_argument("--horizon", type=int, required=True)
    parser.add_argument("--origins", type=int, required=True)
    parser.add_argument("--season", type=int, required=True)
    parser.add_argument("--lags", required=True, help="LightGBM lags, comma-separated")
    parser.add_argument("--models", default="", help="only these models, comma-separated (default: all)")
    parser.add_argument("--output", required=True)
    parser.add_argument("--timings", required=True)
    args = parser.parse_args(argv)

    raw = pd.read_csv(args.input, parse_dates=["date"])
    regressors = [column for column in raw.columns if column not in ("series_id", "date", "qty", "censored")]
    frame = raw.rename(columns={"series_id": "unique_id", "date": "ds", "qty": "y"})
    frame["y"] = frame["y"].fillna(0.0).clip(lower=0.0)
    family = {"D": "D", "W": "W", "M": "M"}[args.freq[0]]
    lags = [int(lag) for lag in args.lags.split(",")]
    wanted = set(filter(None, args.models.split(",")))

    candidates = statistical_models(args.season)
    runs = {name: model for name, model in candidates.items() if not wanted or name in wanted}
    parts, seconds = [], {}
    for origin, train, future in windows(frame, args.horizon, args.origins):
        for name, model in runs.items():
            started = time.perf_counter()
            forecast = run_statistical(name, model, train, args.horizon, args.freq)
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started
            parts.append(forecast.assign(method=name, origin=origin))
        if not wanted or "LightGBM" in wanted:
            started = time.perf_counter()
            forecast = run_lightgbm(train, future, args.horizon, args.freq, family, lags, regressors)
            seconds["LightGBM"] = seconds.get("LightGBM", 0.0) + time.perf_counter() - started
            parts.append(forecast.assign(method="LightGBM", origin=origin))

    forecasts = pd.concat(parts, ignore_index=True)
    forecasts["p50"] = forecasts["p50"].fillna(0.0).clip(lower=0.0)
    forecasts = forecasts.rename(columns={"unique_id": "series_id", "ds": "date"})
    forecasts[["method", "series_id", "origin", "date", "p50"]].to_csv(args.output, index=False)
    with open(args.timings, "w") as handle:
        json.dump({name: round(value, 3) for name, value in seconds.items()}, handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
