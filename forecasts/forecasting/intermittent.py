"""The forecast for intermittent and lumpy demand: the Teunter–Syntetos–Babai method (``tsb_forecast``), with a
negative binomial (or Poisson) p90."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from forecasts.forecasting.baselines import zero_forecast
from forecasts.forecasting.quantiles import QuantileForecast, bernoulli_size_p90, finalise_forecast

# TSB smoothing constants searched per series; the ranges follow the values studied by Teunter, Syntetos and
# Babai (2011): sizes react faster than the demand probability, which must stay stable on sparse data.
TSB_ALPHAS = (0.05, 0.1, 0.2, 0.3)
TSB_BETAS = (0.01, 0.02, 0.05, 0.1, 0.2)


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
    upper = bernoulli_size_p90(mean, probability, size, size_variance)
    return finalise_forecast(np.full(horizon, mean), np.full(horizon, upper))
