"""Temporal aggregation for intermittent demand: ADIDA (``adida_forecast``) and IMAPA (``imapa_forecast``).

Summing an intermittent series into buckets of several periods leaves fewer zeros and less noise per bucket;
simple exponential smoothing (SES) forecasts the bucket totals and the forecast is spread evenly back over the
periods of a bucket (Nikolopoulos et al. 2011, "An aggregate–disaggregate intermittent demand approach
(ADIDA)"). IMAPA (Petropoulos & Kourentzes 2015) averages that forecast over every bucket size from one period to
the ADIDA one. Both forecasts are flat over the horizon.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from forecasts.forecasting.baselines import zero_forecast
from forecasts.forecasting.quantiles import QuantileForecast, finalise_forecast, rate_p90

# SES smoothing constants searched per aggregate series: the 0.1–0.3 range usual for intermittent demand (the one
# statsforecast's ADIDA and IMAPA optimise over).
SES_ALPHAS = np.linspace(0.1, 0.3, 21)


def ses_level(x: ArrayLike, alphas: ArrayLike = SES_ALPHAS) -> float:
    """The one-step SES forecast of ``x`` (oldest first) with the alpha of the lowest in-sample squared error.

    The level starts at the first value; each later value is forecast by the level before it is seen.

    Each alpha's levels are a float loop (plain floats round as numpy's element-wise operations do); the errors
    of all alphas are then formed in one array and summed period by period in order (``np.add.accumulate``), the
    same additions in the same order as a running total, so the result is the same to the bit as updating all
    alphas period by period with numpy, without the half a dozen numpy calls per period.
    """
    values = np.asarray(x, dtype=float)
    candidates = np.asarray(alphas, dtype=float)
    first, later = float(values[0]), values[1:].tolist()
    paths: list[list[float]] = []
    for alpha in candidates.tolist():
        level = first
        path = [level]
        for value in later:
            level = level + alpha * (value - level)
            path.append(level)
        paths.append(path)
    levels = np.asarray(paths).T  # the level after each period, a column per alpha
    if not later:
        return first
    error = values[1:, None] - levels[:-1]
    squared_error = np.add.accumulate(error * error, axis=0)[-1]
    return float(levels[-1, int(np.argmin(squared_error))])


def mean_interval(demand: np.ndarray) -> float:
    """Average periods per demand, counting the first interval from the start of the series (ADIDA's rule)."""
    positions = np.flatnonzero(demand > 0)
    return float(np.diff(positions + 1, prepend=0).mean())


def aggregate_rate(demand: np.ndarray, bucket: int) -> float:
    """The demand per period forecast by SES on sums of ``bucket`` periods (the oldest periods that do not fill
    a bucket are left out, so the last bucket ends with the history)."""
    usable = demand[demand.size % bucket :]
    totals = usable.reshape(-1, bucket).sum(axis=1)
    return ses_level(totals) / bucket


def _clean(y: ArrayLike) -> np.ndarray:
    values = np.asarray(y, dtype=float)
    return np.clip(values[~np.isnan(values)], 0.0, None)


def _flat(demand: np.ndarray, rate: float, horizon: int) -> QuantileForecast:
    return finalise_forecast(np.full(horizon, rate), np.full(horizon, rate_p90(demand, rate)))


def adida_forecast(y: ArrayLike, horizon: int) -> QuantileForecast:
    """ADIDA: buckets of the mean inter-demand interval (rounded, at least one period), SES on their sums, the
    forecast spread evenly. Censored (NaN) periods are skipped. p90 as ``rate_p90`` gives it."""
    demand = _clean(y)
    if not (demand > 0).any():
        return zero_forecast(horizon)
    bucket = min(max(round(mean_interval(demand)), 1), demand.size)
    return _flat(demand, aggregate_rate(demand, bucket), horizon)


def imapa_forecast(y: ArrayLike, horizon: int) -> QuantileForecast:
    """IMAPA: the mean of the aggregate forecasts over buckets of one period up to the ADIDA bucket."""
    demand = _clean(y)
    if not (demand > 0).any():
        return zero_forecast(horizon)
    largest = min(max(round(mean_interval(demand)), 1), demand.size)
    rate = float(np.mean([aggregate_rate(demand, bucket) for bucket in range(1, largest + 1)]))
    return _flat(demand, rate, horizon)
