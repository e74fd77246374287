"""Rolling-origin backtest: forecast the last ``origins × horizon`` periods of every series from the data before
them, ``horizon`` periods at a time, with the engine and with two naive baselines, and score all three alike.

For a series with ``n`` periods, origin ``k`` (k = 1..K) trains on periods ``[0, n − (K − k + 1)·h)`` and
forecasts the next ``h``. The engine is ``engine.forecast_many`` — the code ``cmi forecast`` runs — and the
baselines are measured in the same run on the same windows:

- ``seasonal_naive``: the last observed season repeated (``models.seasonal_naive_forecast``);
- ``naive``: the last observed value repeated (``models.naive_forecast``).

Metrics (``forecasts.forecasting.metrics``), on p50 against the actual demand of every forecast period; censored periods
(unknown demand) are not scored:

- WAPE ``Σ|y − ŷ| / Σy`` and bias ``Σ(ŷ − y) / Σy``, pooled over all series, origins and periods, so large
  series weigh more;
- MASE: per series, the mean absolute error over all its forecast periods divided by the in-sample mean absolute
  error of a seasonal naive forecast on the part of the series before the first origin (its training part);
  overall, the mean of the series' MASE. Below 1 beats a one-season-ahead seasonal naive on the training data.
- For p90: the pinball loss and the coverage (share of actuals at or below p90; 0.9 when calibrated).

Pure: no files, no warehouse. ``summarise`` turns a ``Backtest`` into plain numbers for JSON.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasts.forecasting import metrics, models
from forecasts.forecasting.engine import SEASON_LENGTH, RegularSeries, forecast_many, regular_series
from forecasts.forecasting.periods import DAILY

ENGINE = "engine"
SEASONAL_NAIVE = "seasonal_naive"
NAIVE = "naive"
METHODS = (ENGINE, SEASONAL_NAIVE, NAIVE)
FORECAST_COLUMNS = ["method", "series_id", "origin", "date", "actual", "p50", "p90", "model"]


@dataclass(frozen=True)
class Backtest:
    """Every forecast period of every method, series and origin (``forecasts``, columns ``FORECAST_COLUMNS``;
    ``origin`` is the last training date, ``model`` the engine's model or the baseline's name), and the MASE
    scale of each series (``scales``, NaN when undefined)."""

    forecasts: pd.DataFrame
    scales: pd.Series
    horizon: int
    origins: int
    season: int
    freq: str


def _regular_by_series(frame: pd.DataFrame, freq: str, regressors: Sequence[str]) -> dict[object, RegularSeries]:
    censored = frame["censored"].fillna(False).to_numpy(dtype=bool) if "censored" in frame.columns else None
    days = models.day_numbers(pd.to_datetime(frame["date"]))
    qty = pd.to_numeric(frame["qty"], errors="coerce").to_numpy(dtype=float)
    values = frame[list(regressors)].apply(pd.to_numeric).to_numpy(dtype=float) if regressors else None
    result = {}
    for series_id, rows in frame.groupby("series_id", sort=True).indices.items():
        try:
            result[series_id] = regular_series(
                days[rows],
                qty[rows],
                freq,
                censored=None if censored is None else censored[rows],
                regressors=None if values is None else values[rows],
                regressor_names=list(regressors),
            )
        except ValueError as error:
            raise ValueError(f"series {series_id!r}: {error}") from error
    return result


def mase_scale(y: np.ndarray, season: int) -> float:
    """MASE's scale: the in-sample mean absolute seasonal difference, censored pairs left out; NaN when it is
    undefined or zero."""
    if y.size <= season:
        return float("nan")
    errors = np.abs(y[season:] - y[:-season])
    errors = errors[~np.isnan(errors)]
    scale = float(errors.mean()) if errors.size else 0.0
    return scale if scale > 0 else float("nan")


def _long_rows(series_id: object, series: RegularSeries, rows: slice, regressors: Sequence[str]) -> pd.DataFrame:
    days = series.days[rows]
    y = series.y[rows]
    columns = {
        "series_id": np.full(days.size, series_id, dtype=object),
        "date": pd.DatetimeIndex(days.astype("datetime64[D]").astype("datetime64[ns]")),
        "qty": y,
        "censored": np.isnan(y),
    }
    for index, name in enumerate(regressors):
        columns[name] = series.regressors[rows, index]
    return pd.DataFrame(columns)


def run_backtest(
    frame: pd.DataFrame,
    horizon: int,
    origins: int,
    freq: str = DAILY,
    season: int | None = None,
    *,
    countries: Mapping[str, str] | None = None,
    regressors: Sequence[str] = (),
    n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> Backtest:
    """Backtest the engine and the baselines on ``frame`` (``series_id, date, qty[, censored, regressors...]``).

    ``season`` is the baselines' and MASE's season (default: 7 for daily data, 52 for weekly, 12 for monthly). Regressor
    columns must be known in advance (a holiday flag, a planned promotion): their values in each forecast
    window are given to the engine as the future values. A series too short for an origin (no training
    period left) is skipped for that origin. ``progress(done, total)`` counts series-origins.
    """
    if horizon < 1 or origins < 1:
        raise ValueError(f"horizon and origins must be at least 1, got {horizon} and {origins}")
    season = season or SEASON_LENGTH[freq]
    if season < 1:
        raise ValueError(f"season must be at least 1, got {season}")
    missing = [column for column in ["series_id", "date", "qty", *regressors] if column not in frame.columns]
    if missing:
        raise ValueError(f"frame is missing columns: {', '.join(missing)}")
    by_series = _regular_by_series(frame, freq, regressors)
    holdout = origins * horizon
    scales = pd.Series(
        {
            series_id: mase_scale(series.y[: max(series.y.size - holdout, 0)], season)
            for series_id, series in by_series.items()
        },
        dtype=float,
    )

    windows = []
    for origin in range(origins):
        train, test, future = [], [], []
        for series_id, series in by_series.items():
            cut = series.y.size - (origins - origin) * horizon
            if cut < 1:
                continue
            train.append(_long_rows(series_id, series, slice(0, cut), regressors))
            window = _long_rows(series_id, series, slice(cut, cut + horizon), regressors)
            test.append(window.assign(origin=train[-1]["date"].iloc[-1]))
            future.append(window[["series_id", "date", *regressors]])
        if train:
            windows.append((pd.concat(train, ignore_index=True), pd.concat(test, ignore_index=True), future))
    total = sum(test["series_id"].nunique() for _, test, _ in windows)
    done = 0

    def report(chunk_done: int, _: int) -> None:
        if progress is not None:
            progress(done + chunk_done, total)

    parts = []
    for train, test, future in windows:
        engine = forecast_many(
            train,
            horizon,
            freq,
            countries=countries,
            n_jobs=n_jobs,
            progress=report,
            regressors=list(regressors) or None,
            future_regressors=pd.concat(future, ignore_index=True) if regressors else None,
        )
        done += test["series_id"].nunique()
        scored = test.merge(engine[["series_id", "date", "p50", "p90", "model"]], on=["series_id", "date"])
        parts.append(scored.assign(method=ENGINE))
        parts.append(_baselines(train, test, horizon, season))
    forecasts = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*FORECAST_COLUMNS, "qty"])
    forecasts = forecasts.rename(columns={"qty": "actual"})
    forecasts.loc[forecasts["censored"].astype(bool), "actual"] = np.nan
    forecasts = forecasts[FORECAST_COLUMNS].sort_values(["method", "series_id", "date"], ignore_index=True)
    return Backtest(forecasts, scales, horizon, origins, season, freq)


def _baselines(train: pd.DataFrame, test: pd.DataFrame, horizon: int, season: int) -> pd.DataFrame:
    """The seasonal naive and naive forecasts of every series' test window: series by series, seasonal first.

    Each series' rows are found once by position (filtering the whole test frame per series made the backtest
    quadratic in the number of series) and the result is one frame built from arrays, not one per series.
    """
    qty = train["qty"].to_numpy(dtype=float)
    histories = train.groupby("series_id", sort=True).indices
    windows = test.groupby("series_id", sort=False).indices
    no_rows = np.array([], dtype=np.int64)
    positions, methods, p50, p90 = [], [], [], []
    for series_id in sorted(histories):
        y = qty[histories[series_id]]
        window = windows.get(series_id, no_rows)
        for method, quantiles in (
            (SEASONAL_NAIVE, models.seasonal_naive_forecast(y, horizon, season)),
            (NAIVE, models.naive_forecast(y, horizon)),
        ):
            if len(quantiles.p50) != len(window):
                raise ValueError(f"series {series_id!r}: {len(window)} test rows for a horizon of {horizon}")
            positions.append(window)
            methods.append(np.full(len(window), method, dtype=object))
            p50.append(quantiles.p50)
            p90.append(quantiles.p90)
    if not positions:
        return test.iloc[:0].assign(method=[], model=[], p50=[], p90=[])
    method = np.concatenate(methods)
    rows = test.iloc[np.concatenate(positions)].reset_index(drop=True)
    return rows.assign(method=method, model=method, p50=np.concatenate(p50), p90=np.concatenate(p90))


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


def _scores(group: pd.DataFrame, scales: pd.Series) -> dict[str, float | None]:
    actual, p50, p90 = (group[column].to_numpy(dtype=float) for column in ("actual", "p50", "p90"))
    known = ~np.isnan(actual)
    per_series = [
        np.abs(rows["actual"] - rows["p50"]).mean() / scales.get(series_id, np.nan)
        for series_id, rows in group[known].groupby("series_id")
    ]
    per_series = [value for value in per_series if np.isfinite(value)]
    return {
        "wape": _finite(metrics.wape(actual, p50)),
        "bias": _finite(metrics.bias(actual, p50)),
        "mase": _finite(float(np.mean(per_series)) if per_series else float("nan")),
        "pinball_p90": _finite(metrics.pinball(actual, p90, 0.9)),
        "coverage_p90": _finite(float((actual[known] <= p90[known]).mean()) if known.any() else float("nan")),
    }


def summarise(backtest: Backtest, *, by_series: bool = False) -> dict[str, object]:
    """The backtest as plain numbers: per method WAPE, bias, MASE, p90 pinball loss and coverage (overall and,
    with ``by_series``, per series), the number of series and scored periods, and how often the engine used
    each model (series × origins)."""
    forecasts = backtest.forecasts
    engine = forecasts[forecasts["method"] == ENGINE]
    summary: dict[str, object] = {
        "horizon": backtest.horizon,
        "origins": backtest.origins,
        "freq": backtest.freq,
        "season": backtest.season,
        "series": int(forecasts["series_id"].nunique()),
        "periods_scored": int(engine["actual"].notna().sum()),
        "methods": {method: _scores(forecasts[forecasts["method"] == method], backtest.scales) for method in METHODS},
        "engine_models": {
            str(model): int(count)
            for model, count in engine.drop_duplicates(["series_id", "origin"])["model"].value_counts().items()
        },
    }
    if by_series:
        summary["by_series"] = {
            str(series_id): {
                method: {
                    key: value
                    for key, value in _scores(rows[rows["method"] == method], backtest.scales).items()
                    if key in ("wape", "bias", "mase")
                }
                for method in METHODS
            }
            for series_id, rows in forecasts.groupby("series_id", sort=True)
        }
    return summary
