"""Forecasting models: each fits one series and returns a median and a 90th-percentile path.

Every model takes the history as one value per period, oldest first, with censored (stock-out) periods as NaN,
and returns ``QuantileForecast(p50, p90)`` for ``horizon`` periods after the history. All outputs are finite,
never negative, and ``p50 <= p90``.

``p50`` is each model's point forecast (a conditional mean). For smooth demand that is also the median; for
intermittent demand the literal median of a single period is usually zero, which would tell replenishment
nothing, so the mean rate is kept. ``p90`` is the model's 90th percentile, derived as each function documents.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from types import ModuleType
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

PROPHET = "prophet"
TSB = "tsb"
SEASONAL_NAIVE = "seasonal_naive"
MOVING_AVERAGE = "moving_average"
ZERO = "zero"
MODEL_NAMES = (PROPHET, TSB, SEASONAL_NAIVE, MOVING_AVERAGE, ZERO)

DAILY = "D"
WEEKLY = "W"
DAYS_PER_PERIOD = {DAILY: 1, WEEKLY: 7}

Z_90 = float(stats.norm.ppf(0.9))

# TSB smoothing constants searched per series; the ranges follow the values studied by Teunter, Syntetos and
# Babai (2011): sizes react faster than the demand probability, which must stay stable on sparse data.
TSB_ALPHAS = (0.05, 0.1, 0.2, 0.3)
TSB_BETAS = (0.01, 0.02, 0.05, 0.1, 0.2)

_PROPHET_FIT_SEED = 20240101


class QuantileForecast(NamedTuple):
    """Median and 90th-percentile forecast, one value per future period."""

    p50: np.ndarray
    p90: np.ndarray


def _finalise(p50: ArrayLike, p90: ArrayLike) -> QuantileForecast:
    """Floor at zero and keep p90 at or above p50: demand is never negative and quantiles never cross."""
    median = np.clip(np.nan_to_num(np.asarray(p50, dtype=float), nan=0.0), 0.0, None)
    upper = np.nan_to_num(np.asarray(p90, dtype=float), nan=0.0)
    return QuantileForecast(median, np.maximum(upper, median))


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
    return _finalise(p50, p90)


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

    fallback = float(np.nanmean(values))
    profile = np.full(season, fallback)
    for position in range(season):
        for index in range(n - season + position, -1, -season):
            if 0 <= index < n and not np.isnan(values[index]):
                profile[position] = values[index]
                break

    steps = np.arange(horizon)
    p50 = profile[steps % season]

    if n > season:
        differences = values[season:] - values[:-season]
        differences = differences[~np.isnan(differences)]
    else:
        differences = np.empty(0)
    if differences.size:
        spread = max(float(np.quantile(differences, 0.9)), 0.0)
    else:
        usable = values[~np.isnan(values)]
        spread = Z_90 * float(usable.std(ddof=1)) if usable.size >= 2 else 0.0
    seasons_ahead = steps // season + 1
    return _finalise(p50, p50 + spread * np.sqrt(seasons_ahead))


def _tsb_filter(demand: np.ndarray, alphas: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, ...]:
    """Run TSB over ``demand`` for each (alpha, beta) pair.

    Returns the final probability, the final size and the in-sample mean squared one-step error per pair.
    """
    nonzero = demand[demand > 0]
    probability = np.full(alphas.shape, nonzero.size / demand.size)
    size = np.full(alphas.shape, nonzero.mean())
    squared_error = np.zeros(alphas.shape)
    for value in demand:
        squared_error += (value - probability * size) ** 2
        if value > 0:
            size = size + alphas * (value - size)
            probability = probability + betas * (1.0 - probability)
        else:
            probability = probability - betas * probability
    return probability, size, squared_error / demand.size


def tsb_forecast(
    y: ArrayLike, horizon: int, *, alpha: float | None = None, beta: float | None = None
) -> QuantileForecast:
    """Teunter–Syntetos–Babai forecast for intermittent and lumpy demand.

    TSB smooths the demand size (``alpha``, updated only when demand occurs) and the probability of demand
    (``beta``, updated every period, so the forecast decays when a product stops selling — Croston's method
    never does). Censored periods are skipped: they say nothing about either. When ``alpha``/``beta`` are not
    given, the pair with the lowest in-sample one-step squared error is picked from ``TSB_ALPHAS`` ×
    ``TSB_BETAS``.

    p50 is the rate ``probability × size``. p90 is the 90th percentile of a negative binomial with that mean
    and the variance of a Bernoulli-times-size demand, ``p·(σ_z² + z²) − (p·z)²`` (σ_z² = sample variance of
    the non-zero sizes); when that variance does not exceed the mean a Poisson with the same mean is used.
    Both are flat over the horizon, as TSB assumes a stationary rate.
    """
    values = np.asarray(y, dtype=float)
    demand = np.clip(values[~np.isnan(values)], 0.0, None)
    nonzero = demand[demand > 0]
    if nonzero.size == 0:
        return zero_forecast(horizon)

    grid_alpha, grid_beta = np.meshgrid(
        np.asarray([alpha] if alpha is not None else TSB_ALPHAS, dtype=float),
        np.asarray([beta] if beta is not None else TSB_BETAS, dtype=float),
        indexing="ij",
    )
    probability, size, mse = _tsb_filter(demand, grid_alpha.ravel(), grid_beta.ravel())
    best = int(np.argmin(mse))
    probability, size = float(probability[best]), float(size[best])

    mean = probability * size
    size_variance = float(nonzero.var(ddof=1)) if nonzero.size >= 2 else 0.0
    variance = probability * (size_variance + size**2) - mean**2
    if mean <= 0:
        upper = 0.0
    elif variance > mean:
        upper = float(stats.nbinom.ppf(0.9, mean**2 / (variance - mean), mean / variance))
    else:
        upper = float(stats.poisson.ppf(0.9, mean))
    return _finalise(np.full(horizon, mean), np.full(horizon, upper))


@functools.cache
def _prophet_module() -> ModuleType:
    """Import Prophet once per process with its and cmdstanpy's chatter turned down.

    Prophet logs about plotly while importing (so ``prophet.plot`` is quietened first) and sets its own logger
    to INFO on import (so ``prophet`` is quietened after). cmdstanpy installs an INFO handler and lowers its
    logger to DEBUG the first time it logs, unless the logger already has a handler; a NullHandler keeps the
    level set here. Errors still propagate to the application's handlers.
    """
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
    import prophet

    logging.getLogger("prophet").setLevel(logging.ERROR)
    cmdstanpy_logger = logging.getLogger("cmdstanpy")
    cmdstanpy_logger.setLevel(logging.ERROR)
    if not any(isinstance(handler, logging.NullHandler) for handler in cmdstanpy_logger.handlers):
        cmdstanpy_logger.addHandler(logging.NullHandler())
    return prophet


def validate_country(country: str) -> None:
    """Raise ValueError when Prophet has no national holiday calendar for ``country`` (e.g. ``"DE"``)."""
    _prophet_module()
    from prophet.make_holidays import get_country_holidays_class

    try:
        get_country_holidays_class(country)
    except AttributeError as error:
        raise ValueError(f"no holiday calendar for country {country!r}") from error


def prophet_widening(n_periods: int, horizon: int) -> np.ndarray:
    """Prediction-interval widening for extrapolating a linear trend fitted on ``n_periods`` points.

    The textbook factor ``sqrt(1 + 1/n + (x_h − x̄)² / Sxx)`` for x = 1..n: equal to about 1 close to the
    history and growing as the forecast moves away from the fitted span.
    """
    n = max(n_periods, 2)
    steps = np.arange(1, horizon + 1)
    distance = (n - 1) / 2 + steps
    return np.sqrt(1.0 + 1.0 / n + 12.0 * distance**2 / (n * (n**2 - 1)))


def prophet_forecast(
    history: pd.DataFrame,
    future: pd.DataFrame,
    *,
    freq: str = DAILY,
    country: str | None = None,
    regressors: Sequence[str] = (),
) -> QuantileForecast:
    """Fit Prophet on ``history`` (columns ``ds``, ``y`` and each regressor) and forecast ``future`` (``ds``
    and each regressor).

    Linear growth; weekly seasonality for daily data; yearly seasonality once the usable history spans a year;
    national holidays of ``country`` for daily data (weekly periods almost never start on the holiday itself,
    so the holiday columns would be empty). Censored periods have NaN ``y`` and Prophet leaves them out of the
    fit. ``uncertainty_samples=0`` skips Prophet's simulation; instead p90 = yhat + the empirical 90th
    percentile of the in-sample residuals ``y − yhat``, multiplied by ``prophet_widening`` so it grows with
    the distance from the history. The empirical quantile keeps the skew that demand residuals usually have,
    which a normal interval would lose. The output is deterministic: the optimiser runs from Prophet's fixed
    initial values with a fixed seed.
    """
    prophet = _prophet_module()
    usable = history.loc[history["y"].notna()]
    span_days = (usable["ds"].max() - usable["ds"].min()).days
    model = prophet.Prophet(
        growth="linear",
        weekly_seasonality=freq == DAILY,
        yearly_seasonality=span_days >= 365,
        daily_seasonality=False,
        uncertainty_samples=0,
    )
    if country and freq == DAILY:
        model.add_country_holidays(country_name=country)
    for name in regressors:
        model.add_regressor(name)
    model.fit(history[["ds", "y", *regressors]], seed=_PROPHET_FIT_SEED)

    prediction = model.predict(pd.concat([usable[["ds", *regressors]], future[["ds", *regressors]]]))
    yhat = prediction["yhat"].to_numpy(dtype=float)
    fitted, forecast = yhat[: len(usable)], yhat[len(usable) :]
    residuals = usable["y"].to_numpy(dtype=float) - fitted
    spread = max(float(np.quantile(residuals, 0.9)), 0.0)
    return _finalise(forecast, forecast + spread * prophet_widening(len(history), len(future)))
