"""Forecast accuracy metrics, measured after the fact against what really sold.

Pairs where the actual or the forecast is NaN are left out, so censored (stock-out) periods, whose actuals are
not demand, can be passed as NaN. A metric whose denominator is zero — no demand in ``y`` for WAPE and bias,
a constant in-sample series for MASE — or that has no pairs to score returns NaN rather than infinity or an
error: the ratio is undefined, and NaN is skipped by the aggregates analysts put on top.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _pairs(y: ArrayLike, yhat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    actual = np.asarray(y, dtype=float)
    forecast = np.asarray(yhat, dtype=float)
    if actual.shape != forecast.shape:
        raise ValueError(f"actuals have shape {actual.shape}, forecasts have shape {forecast.shape}")
    scored = ~(np.isnan(actual) | np.isnan(forecast))
    return actual[scored], forecast[scored]


def wape(y: ArrayLike, yhat: ArrayLike) -> float:
    """Weighted absolute percentage error ``Σ|y − ŷ| / Σy``; NaN when ``Σy = 0``."""
    actual, forecast = _pairs(y, yhat)
    total = actual.sum()
    return float(np.abs(actual - forecast).sum() / total) if total != 0 else float("nan")


def bias(y: ArrayLike, yhat: ArrayLike) -> float:
    """Relative bias ``Σ(ŷ − y) / Σy``: positive when the forecast is too high; NaN when ``Σy = 0``."""
    actual, forecast = _pairs(y, yhat)
    total = actual.sum()
    return float((forecast - actual).sum() / total) if total != 0 else float("nan")


def mase(y: ArrayLike, yhat: ArrayLike, insample: ArrayLike, season: int = 7) -> float:
    """Mean absolute scaled error: the forecast's MAE over the in-sample MAE of a seasonal naive forecast.

    The scale is the mean of ``|insample[t] − insample[t − season]|`` over pairs where both are known. Below 1
    means the forecast beats the seasonal naive. NaN when the scale is zero or cannot be computed.
    """
    if season < 1:
        raise ValueError(f"season must be at least 1, got {season}")
    actual, forecast = _pairs(y, yhat)
    history = np.asarray(insample, dtype=float)
    naive_errors = np.abs(history[season:] - history[:-season])
    naive_errors = naive_errors[~np.isnan(naive_errors)]
    scale = naive_errors.mean() if naive_errors.size else 0.0
    if scale == 0 or actual.size == 0:
        return float("nan")
    return float(np.abs(actual - forecast).mean() / scale)


def pinball(y: ArrayLike, q_pred: ArrayLike, q: float) -> float:
    """Mean pinball (quantile) loss of a ``q``-quantile forecast.

    Each period costs ``q·(y − ŷ)`` when the forecast is under and ``(1 − q)·(ŷ − y)`` when it is over.
    NaN when there are no pairs.
    """
    if not 0 < q < 1:
        raise ValueError(f"q must be strictly between 0 and 1, got {q}")
    actual, forecast = _pairs(y, q_pred)
    if actual.size == 0:
        return float("nan")
    error = actual - forecast
    return float(np.maximum(q * error, (q - 1) * error).mean())
