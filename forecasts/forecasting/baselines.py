"""Simple baseline forecasts: zeros, the moving average, the naive and seasonal naive forecasts (also moved to the
current level), and the equal-weight blend of forecasts.

Each takes the history as one value per period, oldest first, censored periods as NaN (see ``models``). Their
p90 is the empirical 90th percentile of the errors the same rule makes in sample, as each function documents.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from forecasts.forecasting.quantiles import Z_P90, QuantileForecast, finalise_forecast


def zero_forecast(horizon: int) -> QuantileForecast:
    """Zero demand for every period: the forecast of a series that has never sold."""
    return QuantileForecast(np.zeros(horizon), np.zeros(horizon))


def moving_average_forecast(y: ArrayLike, horizon: int, window: int) -> QuantileForecast:
    """Flat forecast from the last ``window`` usable periods.

    p50 is their mean; p90 their empirical 90th percentile, i.e. the recent periods are taken as draws from
    the demand distribution. Meant for series too short for anything with parameters to estimate.
    """
    values = np.asarray(y, dtype=float)
    recent = values[~np.isnan(values)][-window:]
    if recent.size == 0:
        return zero_forecast(horizon)
    p50 = np.full(horizon, recent.mean())
    p90 = np.full(horizon, np.quantile(recent, 0.9))
    return finalise_forecast(p50, p90)


def naive_forecast(y: ArrayLike, horizon: int) -> QuantileForecast:
    """Repeat the last usable value (the random walk forecast, a benchmark every model should beat).

    p90 adds the empirical 90th percentile of the in-sample one-step changes, widened by ``sqrt(h)`` for the
    h-th period ahead, as random-walk errors accumulate.
    """
    values = np.asarray(y, dtype=float)
    usable = values[~np.isnan(values)]
    if usable.size == 0:
        return zero_forecast(horizon)
    changes = np.diff(usable)
    spread = max(float(np.quantile(changes, 0.9)), 0.0) if changes.size else 0.0
    p50 = np.full(horizon, usable[-1])
    return finalise_forecast(p50, p50 + spread * np.sqrt(np.arange(1, horizon + 1)))


def _last_season(values: np.ndarray, season: int) -> np.ndarray:
    """The last ``season`` values, each censored one replaced by the latest usable value at its position in an
    earlier season (or the series mean when there is none)."""
    n = values.size
    profile = np.full(season, float(np.nanmean(values)))
    for position in range(season):
        for index in range(n - season + position, -1, -season):
            if 0 <= index < n and not np.isnan(values[index]):
                profile[position] = values[index]
                break
    return profile


def seasonal_naive_forecast(y: ArrayLike, horizon: int, season: int) -> QuantileForecast:
    """Repeat the last observed season.

    A censored period in the last season is replaced by the most recent usable value at the same position in
    an earlier season (or the series mean when there is none). p90 adds the empirical 90th percentile of the
    in-sample seasonal differences ``y[t] - y[t - season]`` — exactly the error this model makes one season
    ahead — widened by ``sqrt(k)`` for the k-th season ahead, as seasonal-naive errors accumulate like a
    random walk across seasons.
    """
    values = np.asarray(y, dtype=float)
    n = values.size
    if n == 0 or np.isnan(values).all():
        return zero_forecast(horizon)

    steps = np.arange(horizon)
    p50 = _last_season(values, season)[steps % season]

    if n > season:
        differences = values[season:] - values[:-season]
        differences = differences[~np.isnan(differences)]
    else:
        differences = np.empty(0)
    if differences.size:
        spread = max(float(np.quantile(differences, 0.9)), 0.0)
    else:
        usable = values[~np.isnan(values)]
        spread = Z_P90 * float(usable.std(ddof=1)) if usable.size >= 2 else 0.0
    seasons_ahead = steps // season + 1
    return finalise_forecast(p50, p50 + spread * np.sqrt(seasons_ahead))


def seasonal_level_forecast(y: ArrayLike, horizon: int, season: int, level_window: int) -> QuantileForecast:
    """Seasonal naive moved to the current level: the last season plus the mean seasonal difference
    ``y[t] - y[t - season]`` over the last ``level_window`` periods.

    The plain seasonal naive repeats last year's level; when a series has grown or shrunk since, every period
    is off by that change. The mean of the recent seasonal differences is exactly that change (for weekly
    data and a 13-week window: this quarter against the same quarter last year), so adding it keeps last
    year's shape at this year's level. Censored periods drop out of the differences. p90 adds the empirical
    90th percentile of the in-sample errors of the same rule (each seasonal difference minus the mean of the
    ``level_window`` differences before it), widened by ``sqrt(k)`` for the k-th season ahead.
    """
    values = np.asarray(y, dtype=float)
    if values.size <= season or np.isnan(values).all():
        return seasonal_naive_forecast(values, horizon, season)
    differences = pd.Series(values[season:] - values[:-season])
    recent = differences.iloc[-level_window:]
    level = float(recent.mean()) if recent.notna().any() else 0.0
    steps = np.arange(horizon)
    p50 = _last_season(values, season)[steps % season] + level

    prior_level = differences.rolling(level_window, min_periods=1).mean().shift(1)
    errors = (differences - prior_level).dropna().to_numpy()
    if errors.size:
        spread = max(float(np.quantile(errors, 0.9)), 0.0)
    else:
        usable = values[~np.isnan(values)]
        spread = Z_P90 * float(usable.std(ddof=1)) if usable.size >= 2 else 0.0
    return finalise_forecast(p50, p50 + spread * np.sqrt(steps // season + 1))


def blend_forecasts(*forecasts: QuantileForecast) -> QuantileForecast:
    """Equal-weight combination: the mean of the p50s and the mean of the p90s (quantile averaging).

    Averaging forecasts whose errors come from different places (a smooth fitted curve and last year's actual
    values) cancels part of each one's error; it is the most reliable single finding of the M forecasting
    competitions. Averaging quantiles of the same level gives a valid quantile of the combined forecast.
    """
    if not forecasts:
        raise ValueError("nothing to blend")
    p50 = np.mean([forecast.p50 for forecast in forecasts], axis=0)
    p90 = np.mean([forecast.p90 for forecast in forecasts], axis=0)
    return finalise_forecast(p50, p90)
