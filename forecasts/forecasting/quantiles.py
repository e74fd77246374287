"""What every forecasting model returns, and the quantile maths behind it.

``QuantileForecast`` is a median and a 90th-percentile path; ``finalise_forecast`` makes any pair of paths a valid
one. ``Z_P90`` is the standard normal's 90th percentile, the one z-value the forecasts and the replenishment
policy convert between a p90 and a standard deviation with; ``z_for`` gives the z-value of any service level.
The discrete quantiles give the p90 of intermittent demand.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

# The standard normal's 90th percentile, written out rather than computed: scipy.stats.norm.ppf(0.9) gives this
# value (tests/unit/test_models.py checks it), statistics.NormalDist().inv_cdf(0.9) one unit in the last place
# above it, and importing scipy costs every forecasting worker process time it does not otherwise spend.
Z_P90 = 1.2815515655446004


def z_for(service_level: ArrayLike) -> np.ndarray:
    """The standard normal quantile of each service level (as ``scipy.stats.norm.ppf``)."""
    # Imported here: only the replenishment policy needs it, and forecasting workers import this module.
    from scipy.special import ndtri

    return ndtri(np.asarray(service_level, dtype=float))


class QuantileForecast(NamedTuple):
    """Median and 90th-percentile forecast, one value per future period."""

    p50: np.ndarray
    p90: np.ndarray


def finalise_forecast(p50: ArrayLike, p90: ArrayLike) -> QuantileForecast:
    """Floor at zero and keep p90 at or above p50: demand is never negative and quantiles never cross."""
    median = np.clip(np.nan_to_num(np.asarray(p50, dtype=float), nan=0.0), 0.0, None)
    upper = np.nan_to_num(np.asarray(p90, dtype=float), nan=0.0)
    return QuantileForecast(median, np.maximum(upper, median))


def _discrete_quantile(q: float, log_pmf: np.ndarray) -> float:
    """Smallest k with P(X <= k) >= q, from the log probabilities of k = 0, 1, ... (scipy's ``ppf`` rule)."""
    cumulative = np.cumsum(np.exp(log_pmf))
    return float(min(int(np.searchsorted(cumulative, q)), cumulative.size - 1))


def _support(mean: float, variance: float) -> np.ndarray:
    """Enough of the support for any quantile up to 0.99: by Cantelli's inequality the 0.99 quantile lies within
    10 standard deviations above the mean."""
    return np.arange(int(np.ceil(mean + 12 * np.sqrt(variance))) + 20)


def poisson_quantile(q: float, mean: float) -> float:
    """q-quantile of a Poisson distribution (as ``scipy.stats.poisson.ppf``)."""
    k = _support(mean, mean)
    log_factorial = np.r_[0.0, np.cumsum(np.log(k[1:]))]
    return _discrete_quantile(q, k * np.log(mean) - mean - log_factorial)


def negative_binomial_quantile(q: float, n: float, p: float) -> float:
    """q-quantile of a negative binomial with ``n`` successes of probability ``p`` (as ``scipy.stats.nbinom.ppf``;
    ``n`` need not be whole)."""
    mean = n * (1 - p) / p
    k = _support(mean, mean / p)
    log_binomial = np.r_[0.0, np.cumsum(np.log((n + k[1:] - 1) / k[1:]))]
    return _discrete_quantile(q, log_binomial + n * np.log(p) + k * np.log1p(-p))


def bernoulli_size_p90(mean: float, probability: float, size: float, size_variance: float) -> float:
    """p90 of intermittent demand of rate ``mean``: demand occurs with ``probability`` and then has a size of mean
    ``size`` and variance ``size_variance``. A negative binomial with that mean and the Bernoulli-times-size
    variance ``p·(σ_z² + z²) − (p·z)²``; a Poisson with the same mean when that variance does not exceed it."""
    variance = probability * (size_variance + size**2) - mean**2
    if mean <= 0:
        return 0.0
    if variance > mean:
        return negative_binomial_quantile(0.9, mean**2 / (variance - mean), mean / variance)
    return poisson_quantile(0.9, mean)


def rate_p90(demand: np.ndarray, rate: float) -> float:
    """``bernoulli_size_p90`` of a forecast ``rate`` for a history ``demand`` (no NaN, at least one sale): the
    probability of demand is the history's share of periods with a sale, the size is the rate over it."""
    nonzero = demand[demand > 0]
    probability = nonzero.size / demand.size
    size_variance = float(nonzero.var(ddof=1)) if nonzero.size >= 2 else 0.0
    return bernoulli_size_p90(rate, probability, rate / probability, size_variance)
