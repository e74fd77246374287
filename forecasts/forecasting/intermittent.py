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

    The probability depends only on beta and whether demand occurred, the size only on alpha and the non-zero
    demands, so each recursion runs once per distinct constant (5 betas over every period, 4 alphas over the
    demands only) in plain floats, which round exactly as numpy's element-wise operations do. The one-step errors
    of every pair are then formed in one array and summed period by period in order (``np.add.accumulate``), the
    same additions in the same order as a running total: the result is the same to the bit as updating all pairs
    period by period, at a fraction of the cost of a dozen numpy calls per period.
    """
    occurs = demand > 0
    nonzero = demand[occurs]
    distinct_betas, beta_of = np.unique(betas, return_inverse=True)
    distinct_alphas, alpha_of = np.unique(alphas, return_inverse=True)

    # The probability before each period (periods × distinct betas) and after the last one.
    occurred = occurs.tolist()
    before: list[list[float]] = []
    final_probability: list[float] = []
    for beta in distinct_betas.tolist():
        probability = nonzero.size / demand.size
        path: list[float] = []
        for hit in occurred:
            path.append(probability)
            probability = probability + beta * (1.0 - probability) if hit else probability - beta * probability
        before.append(path)
        final_probability.append(probability)

    # The size after each demand (demands + 1 × distinct alphas), the first row its starting value.
    sizes = nonzero.tolist()
    paths: list[list[float]] = []
    for alpha in distinct_alphas.tolist():
        size = float(nonzero.mean())
        path = [size]
        for value in sizes:
            size = size + alpha * (value - size)
            path.append(size)
        paths.append(path)
    # Each period sees the size after the demands before it.
    size_before = np.asarray(paths).T[np.cumsum(occurs) - occurs]

    error = demand[:, None] - np.asarray(before).T[:, beta_of] * size_before[:, alpha_of]
    squared_error = np.add.accumulate(error * error, axis=0)[-1]
    return (
        np.asarray(final_probability)[beta_of],
        np.asarray(paths)[alpha_of, -1],
        squared_error / demand.size,
    )


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
