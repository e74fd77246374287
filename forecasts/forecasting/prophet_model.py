"""Prophet's model for one series, estimated with numpy: ``prophet_fit_predict`` (arrays) and ``prophet_forecast``
(frames) return a ``QuantileForecast``.

Prophet is Prophet's model — the same design (piecewise-linear trend with changepoints, Fourier
seasonalities, holiday and regressor columns), the same scaling and the same priors — estimated the way the
``prophet`` package estimates it, as the maximum a posteriori point, but without the package's machinery around
it: the design is built with numpy from day numbers, the estimate is found by a majorise-minimise iteration on
the p×p Gram matrix instead of Stan's L-BFGS in a subprocess (``optimizer="stan"`` still runs Prophet's
compiled Stan program through CmdStan, see ``prophet_reference``), uncertainty is not simulated, and the forecast
is the linear predictor evaluated with numpy. A fit costs a few milliseconds instead of about a tenth of a second;
``tests/unit/test_models.py`` checks the estimate against Stan's and the forecast against ``prophet.Prophet``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from forecasts.forecasting.periods import DAILY, MONTHLY, WEEKLY
from forecasts.forecasting.prophet_reference import stan_estimate
from forecasts.forecasting.quantiles import QuantileForecast, finalise_forecast

# Prophet's own defaults (prophet.Prophet.__init__), so the model is the library's model.
N_CHANGEPOINTS = 25
CHANGEPOINT_RANGE = 0.8
CHANGEPOINT_PRIOR_SCALE = 0.05
SEASONALITY_PRIOR_SCALE = 10.0
HOLIDAYS_PRIOR_SCALE = 10.0
WEEKLY_FOURIER_ORDER = 3
YEAR_DAYS = 365.25
# Yearly Fourier terms. Prophet's default of 10 suits daily data. Weekly data has 52 points a year and its yearly
# shape has sharp weeks (the run-up to a holiday) that 10 terms smear over a month; 20 terms resolve features
# about two and a half weeks wide. Chosen on validation origins of the Walmart store data that end before its
# held-out weeks (engine WAPE with 10 / 15 / 20 terms: 5.6 / 5.2 / 5.1 %), not on the held-out weeks.
YEARLY_FOURIER_ORDER = {DAILY: 10, WEEKLY: 20, MONTHLY: 5}  # twelve points a year carry at most six terms

# How the maximum a posteriori estimate is found: "mm" (default) solves Prophet's objective directly with numpy
# (see ``_map_estimate``); "stan" runs Prophet's compiled Stan program through CmdStan as the prophet package does.
OPTIMIZERS = ("mm", "stan")
# The majorise-minimise iteration stops when an iteration improves the negative log posterior by less than this
# fraction, or after MM_MAX_ITERATIONS. At that point the objective is within about 1e-3 of its minimum, where
# Stan's L-BFGS stops 0.04 to 1 away (tests/unit/test_models.py compares the two).
MM_TOLERANCE = 1e-8
MM_MAX_ITERATIONS = 500


def _holiday_class(country: str) -> type:
    """The ``holidays`` calendar class Prophet uses for ``country`` (``prophet.make_holidays`` rules)."""
    import holidays

    code = {"TU": "TR"}.get(country, country)
    if not code or not hasattr(holidays, code):
        raise ValueError(f"no holiday calendar for country {country!r}")
    return getattr(holidays, code)


def validate_country(country: str) -> None:
    """Raise ValueError when Prophet has no national holiday calendar for ``country`` (e.g. ``"DE"``)."""
    _holiday_class(country)


@functools.cache
def _holiday_days(country: str, first_year: int, last_year: int) -> tuple[tuple[str, np.ndarray], ...]:
    """Each national holiday of ``country`` in the years given, as (name, day numbers since 1970-01-01).

    Built the way ``prophet.make_holidays.make_holidays_df`` builds it (English names, a date with two holidays
    counts for both) and cached, so a run builds each country's calendar once per process rather than once per
    series.
    """
    calendar = _holiday_class(country)(expand=False, language="en_US", years=list(range(first_year, last_year + 1)))
    by_name: dict[str, list[int]] = {}
    for day in calendar:
        for name in calendar.get_list(day):
            by_name.setdefault(name, []).append(int(np.datetime64(day, "D").astype(np.int64)))
    return tuple((name, np.asarray(sorted(days), dtype=np.int64)) for name, days in sorted(by_name.items()))


def holiday_indicators(days: np.ndarray, holidays: Sequence[tuple[str, np.ndarray]]) -> np.ndarray:
    """A column per holiday (``_holiday_days``' order): 1.0 on the rows of ``days`` that are one of its days, else 0.

    One sorted lookup for all holidays rather than a set test per holiday: a day that is two holidays is 1 in both.
    """
    indicators = np.zeros((days.size, len(holidays)))
    if not holidays:
        return indicators
    holiday_days = np.concatenate([holiday for _, holiday in holidays])
    owners = np.repeat(np.arange(len(holidays)), [holiday.size for _, holiday in holidays])
    order = np.argsort(holiday_days, kind="stable")
    holiday_days, owners = holiday_days[order], owners[order]
    first = np.searchsorted(holiday_days, days, side="left")
    matches = np.searchsorted(holiday_days, days, side="right") - first
    # Each row's matches are a run of the sorted holiday days: expand the runs into (row, holiday) pairs.
    rows = np.repeat(np.arange(days.size), matches)
    within = np.arange(rows.size) - np.repeat(np.cumsum(matches) - matches, matches)
    indicators[rows, owners[np.repeat(first, matches) + within]] = 1.0
    return indicators


def day_numbers(dates: ArrayLike) -> np.ndarray:
    """Calendar days since 1970-01-01 (int64) of dates, whatever the datetime unit they are stored in."""
    return np.asarray(pd.DatetimeIndex(dates).normalize().to_numpy().astype("datetime64[D]").astype(np.int64))


def _fourier(days: np.ndarray, period: float, order: int) -> np.ndarray:
    """Prophet's Fourier columns (sin, cos of each harmonic in turn), on days since the epoch."""
    angle = 2.0 * np.pi * days.astype(float) / period
    columns = np.empty((days.size, 2 * order))
    for harmonic in range(1, order + 1):
        columns[:, 2 * harmonic - 2] = np.sin(harmonic * angle)
        columns[:, 2 * harmonic - 1] = np.cos(harmonic * angle)
    return columns


def _standardised(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Prophet's ``standardize="auto"`` for one regressor: binary and constant columns are left as they are,
    others centred and scaled by the mean and sample standard deviation of the fitted rows."""
    fitted = values[known]
    distinct = np.unique(fitted)
    if distinct.size < 2 or set(distinct.tolist()) == {0.0, 1.0}:
        return values
    return (values - fitted.mean()) / fitted.std(ddof=1)


def _prophet_design(
    days: np.ndarray,
    known: np.ndarray,
    *,
    freq: str,
    span_days: int,
    country: str | None,
    regressors: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Feature matrix and prior scales for every row of ``days`` (fitted rows where ``known``).

    Weekly seasonality for daily data; yearly once the fitted history spans a year; national holidays of
    ``country`` for daily data (weekly periods almost never start on the holiday itself); each regressor
    column. A holiday that never falls on a fitted row is left out: Prophet would give it the prior mean, zero.
    """
    blocks: list[np.ndarray] = []
    scales: list[float] = []
    if freq == DAILY and span_days >= 14:
        blocks.append(_fourier(days, 7.0, WEEKLY_FOURIER_ORDER))
        scales += [SEASONALITY_PRIOR_SCALE] * (2 * WEEKLY_FOURIER_ORDER)
    if span_days >= 365:
        order = YEARLY_FOURIER_ORDER[freq]
        blocks.append(_fourier(days, YEAR_DAYS, order))
        scales += [SEASONALITY_PRIOR_SCALE] * (2 * order)
    if country and freq == DAILY:
        first_year, last_year = (int(str(np.datetime64(int(d), "D"))[:4]) for d in (days.min(), days.max()))
        indicators = holiday_indicators(days, _holiday_days(country, first_year, last_year))
        for column in range(indicators.shape[1]):
            if indicators[known, column].any():
                blocks.append(indicators[:, column : column + 1])
                scales.append(HOLIDAYS_PRIOR_SCALE)
    for column in range(regressors.shape[1]):
        blocks.append(_standardised(regressors[:, column], known)[:, None])
        scales.append(HOLIDAYS_PRIOR_SCALE)
    if not blocks:
        return np.zeros((days.size, 1)), np.ones(1)
    return np.hstack(blocks), np.asarray(scales)


def _changepoints(t: np.ndarray) -> np.ndarray:
    """Prophet's changepoint grid: ``N_CHANGEPOINTS`` fitted rows evenly spaced over the first 80 % of the
    history, as scaled times; ``[0.0]`` (a single changepoint Prophet folds into the base rate) when the history
    is too short for any."""
    history_size = int(np.floor(t.size * CHANGEPOINT_RANGE))
    count = min(N_CHANGEPOINTS, history_size - 1)
    if count <= 0:
        return np.zeros(1)
    indexes = np.linspace(0, history_size - 1, count + 1).round().astype(int)
    return np.sort(t[indexes[1:]])


def _piecewise_linear(t: np.ndarray, k: float, m: float, delta: np.ndarray, t_change: np.ndarray) -> np.ndarray:
    """Prophet's linear trend: rate ``k`` plus each changepoint's ``delta`` after it, continuous at each change."""
    active = t_change[None, :] <= t[:, None]
    rate = k + active @ delta
    offset = m + active @ (-t_change * delta)
    return rate * t + offset


def prophet_objective(
    t: np.ndarray,
    y: np.ndarray,
    t_change: np.ndarray,
    features: np.ndarray,
    prior_scales: np.ndarray,
    theta: np.ndarray,
    sigma: float,
) -> float:
    """Negative log posterior of Prophet's linear-growth model (without constants) on scaled data.

    ``theta = (k, m, delta..., beta...)``; the terms are Prophet's: Gaussian likelihood with noise ``sigma``,
    ``k, m ~ N(0, 5)``, ``delta ~ Laplace(0, CHANGEPOINT_PRIOR_SCALE)``, ``sigma ~ N(0, 0.5)``, and
    ``beta ~ N(0, prior_scales)``. Lower is better; used to compare optimisers.
    """
    design = _map_design(t, t_change, features)
    residual = y - design @ theta
    penalty = _map_ridge(t_change.size, prior_scales)
    delta = theta[2 : 2 + t_change.size]
    return float(
        t.size * np.log(sigma)
        + residual @ residual / (2 * sigma**2)
        + 0.5 * (penalty * theta**2).sum()
        + np.abs(delta).sum() / CHANGEPOINT_PRIOR_SCALE
        + sigma**2 / (2 * 0.5**2)
    )


def _map_design(t: np.ndarray, t_change: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Columns of Prophet's linear predictor: ``t``, 1, a ramp ``(t − c)⁺`` per changepoint, the features."""
    ramps = np.clip(t[:, None] - t_change[None, :], 0.0, None)
    return np.column_stack([t, np.ones_like(t), ramps, features])


def _map_ridge(n_changepoints: int, prior_scales: np.ndarray) -> np.ndarray:
    """Gaussian prior precisions per coefficient: 1/5² for k and m, none for delta (Laplace), 1/s² for beta."""
    return np.r_[1 / 25.0, 1 / 25.0, np.zeros(n_changepoints), 1.0 / np.asarray(prior_scales, dtype=float) ** 2]


def _map_estimate(
    t: np.ndarray, y: np.ndarray, t_change: np.ndarray, features: np.ndarray, prior_scales: np.ndarray
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Maximum a posteriori estimate of Prophet's model by majorise-minimise, in numpy.

    The linear predictor is linear in ``theta = (k, m, delta, beta)``, so for a given noise level the objective
    is a least-squares problem with ridge terms (the Gaussian priors) and an L1 term (the Laplace prior on the
    changepoints). Each iteration replaces ``|delta_j|`` by the quadratic that touches it at the current value
    (``delta_j² / 2|delta_j⁰| + |delta_j⁰| / 2``, which lies above it), solves the resulting ridge system — one
    p×p solve on the Gram matrix, p ≈ 50, whatever the history length — and then sets the noise level to its
    exact optimum given the residuals (the positive root of ``4σ⁴ + Tσ² − RSS = 0``). Each step lowers the
    objective, changepoints the prior pulls to zero shrink geometrically, and the iteration stops when it no
    longer improves. This is the estimate Stan's L-BFGS looks for; L-BFGS handles the kink of the L1 term
    badly and stops earlier, at a slightly higher objective, after hundreds of gradient evaluations.
    """
    n_changepoints = t_change.size
    design = _map_design(t, t_change, features)
    gram, moment, total_squares = design.T @ design, design.T @ y, float(y @ y)
    ridge = _map_ridge(n_changepoints, prior_scales)
    rate = 1.0 / CHANGEPOINT_PRIOR_SCALE
    changepoint_index = np.arange(2, 2 + n_changepoints)
    diagonal = np.diag_indices_from(gram)

    # The first solve is a ridge regression with a firm pull on the changepoints, a neutral starting point.
    changepoint_weight = np.full(n_changepoints, rate / 0.01)
    sigma, previous = 1.0, np.inf
    theta = np.zeros(design.shape[1])
    for _ in range(MM_MAX_ITERATIONS):
        system = gram / sigma**2
        system[diagonal] += ridge
        system[changepoint_index, changepoint_index] += changepoint_weight
        theta = np.linalg.solve(system, moment / sigma**2)
        squares = max(total_squares - 2 * theta @ moment + theta @ gram @ theta, 0.0)
        sigma = max(float(np.sqrt((np.sqrt(t.size**2 + 16 * squares) - t.size) / 8)), 1e-9)
        delta = theta[changepoint_index]
        objective = (
            t.size * np.log(sigma)
            + squares / (2 * sigma**2)
            + 0.5 * (ridge * theta**2).sum()
            + rate * np.abs(delta).sum()
            + 2 * sigma**2
        )
        if previous - objective <= MM_TOLERANCE * abs(objective):
            break
        previous = objective
        changepoint_weight = rate / np.maximum(np.abs(delta), 1e-12)
    return float(theta[0]), float(theta[1]), theta[changepoint_index], theta[2 + n_changepoints :]


def prophet_widening(n_periods: int, horizon: int) -> np.ndarray:
    """Prediction-interval widening for extrapolating a linear trend fitted on ``n_periods`` points.

    The textbook factor ``sqrt(1 + 1/n + (x_h − x̄)² / Sxx)`` for x = 1..n: equal to about 1 close to the
    history and growing as the forecast moves away from the fitted span.
    """
    n = max(n_periods, 2)
    steps = np.arange(1, horizon + 1)
    distance = (n - 1) / 2 + steps
    return np.sqrt(1.0 + 1.0 / n + 12.0 * distance**2 / (n * (n**2 - 1)))


@dataclass(frozen=True)
class ProphetProblem:
    """Prophet's model for one series, ready to estimate: scaled times ``t`` (fitted rows first, then the
    future), the scaled fitted values, the changepoints, the feature matrix (all rows) and its prior scales."""

    t: np.ndarray
    y: np.ndarray
    y_scale: float
    t_change: np.ndarray
    features: np.ndarray
    prior_scales: np.ndarray

    @property
    def n_fitted(self) -> int:
        return self.y.size


def prophet_problem(
    days: ArrayLike,
    y: ArrayLike,
    future_days: ArrayLike,
    *,
    freq: str = DAILY,
    country: str | None = None,
    regressors: ArrayLike | None = None,
    future_regressors: ArrayLike | None = None,
) -> ProphetProblem:
    """Prophet's design for a history (censored periods, NaN ``y``, left out as Prophet leaves out missing
    ``y``) and its future, scaled as Prophet scales it: ``y`` by its largest absolute value, time to [0, 1]
    over the fitted span."""
    history_days = np.asarray(days, dtype=np.int64)
    values = np.asarray(y, dtype=float)
    target_days = np.asarray(future_days, dtype=np.int64)
    n_history, horizon = history_days.size, target_days.size
    history_x = np.empty((n_history, 0)) if regressors is None else np.asarray(regressors, dtype=float)
    future_x = np.empty((horizon, 0)) if future_regressors is None else np.asarray(future_regressors, dtype=float)
    history_x, future_x = history_x.reshape(n_history, -1), future_x.reshape(horizon, -1)
    if history_x.shape[1] != future_x.shape[1]:
        raise ValueError("regressors and future_regressors have different numbers of columns")

    known = ~np.isnan(values)
    if known.sum() < 2:
        raise ValueError("Prophet needs at least two periods with a known quantity")
    fitted_days, fitted_y = history_days[known], values[known]
    start, span_days = int(fitted_days.min()), int(fitted_days.max() - fitted_days.min())
    all_days = np.concatenate([fitted_days, target_days])
    features, prior_scales = _prophet_design(
        all_days,
        np.r_[np.ones(fitted_days.size, dtype=bool), np.zeros(horizon, dtype=bool)],
        freq=freq,
        span_days=span_days,
        country=country,
        regressors=np.vstack([history_x[known], future_x]),
    )
    t = (all_days - start) / span_days
    y_scale = float(np.abs(fitted_y).max()) or 1.0
    return ProphetProblem(t, fitted_y / y_scale, y_scale, _changepoints(t[: fitted_days.size]), features, prior_scales)


def estimate_prophet(problem: ProphetProblem, optimizer: str = "mm") -> tuple[float, float, np.ndarray, np.ndarray]:
    """Maximum a posteriori ``(k, m, delta, beta)`` of a Prophet problem with the optimiser named (``OPTIMIZERS``).

    A constant history is not optimised: like Prophet, its estimate is the initial values (a flat line).
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    n = problem.n_fitted
    t, y, n_changepoints, n_features = problem.t[:n], problem.y, problem.t_change.size, problem.features.shape[1]
    if y.min() == y.max():
        return 0.0, float(y[0]), np.zeros(n_changepoints), np.zeros(n_features)
    if optimizer == "mm":
        return _map_estimate(t, y, problem.t_change, problem.features[:n], problem.prior_scales)
    # Prophet's initial values: the line through the first and last point, no changes, no seasonality.
    k0 = float((y[-1] - y[0]) / (t[-1] - t[0]))
    init = {
        "k": k0,
        "m": float(y[0] - k0 * t[0]),
        "delta": np.zeros(n_changepoints),
        "beta": np.zeros(n_features),
        "sigma_obs": 1.0,
    }
    data = {
        "T": int(n),
        "K": int(n_features),
        "t": t,
        "cap": np.zeros(n),
        "y": y,
        "S": int(n_changepoints),
        "t_change": problem.t_change,
        "X": problem.features[:n],
        "sigmas": problem.prior_scales,
        "tau": CHANGEPOINT_PRIOR_SCALE,
        "trend_indicator": 0,
        "s_a": np.ones(n_features),
        "s_m": np.zeros(n_features),
    }
    return stan_estimate(data, init)


def prophet_fit_predict(
    days: ArrayLike,
    y: ArrayLike,
    future_days: ArrayLike,
    *,
    freq: str = DAILY,
    country: str | None = None,
    regressors: ArrayLike | None = None,
    future_regressors: ArrayLike | None = None,
    optimizer: str = "mm",
) -> QuantileForecast:
    """Fit Prophet on one value per period and forecast ``future_days``.

    ``days`` and ``future_days`` are day numbers since 1970-01-01 (see ``day_numbers``), ``y`` has NaN for
    censored periods, which are left out of the fit as Prophet leaves out missing ``y``. ``regressors`` has one
    column per regressor and a row per history period, ``future_regressors`` a row per future period.

    The model is Prophet's linear-growth model with its default priors and changepoints; see
    ``_prophet_design`` for the seasonalities, holidays and regressors it gets, and ``estimate_prophet`` for
    the optimisers. Prophet's simulation of uncertainty (1000 draws by default) is skipped: p90 = yhat + the
    empirical 90th percentile of the in-sample residuals ``y − yhat``, multiplied by ``prophet_widening`` so it
    grows with the distance from the history. The empirical quantile keeps the skew demand residuals usually
    have, which a normal interval would lose. Deterministic.
    """
    problem = prophet_problem(
        days,
        y,
        future_days,
        freq=freq,
        country=country,
        regressors=regressors,
        future_regressors=future_regressors,
    )
    k, m, delta, beta = estimate_prophet(problem, optimizer)
    yhat = (_piecewise_linear(problem.t, k, m, delta, problem.t_change) + problem.features @ beta) * problem.y_scale
    n = problem.n_fitted
    fitted, forecast = yhat[:n], yhat[n:]
    spread = max(float(np.quantile(problem.y * problem.y_scale - fitted, 0.9)), 0.0)
    return finalise_forecast(forecast, forecast + spread * prophet_widening(np.asarray(days).size, forecast.size))


def prophet_forecast(
    history: pd.DataFrame,
    future: pd.DataFrame,
    *,
    freq: str = DAILY,
    country: str | None = None,
    regressors: Sequence[str] = (),
) -> QuantileForecast:
    """``prophet_fit_predict`` on frames: ``history`` has columns ``ds``, ``y`` and each regressor (one row per
    period, NaN ``y`` when censored), ``future`` has ``ds`` and each regressor."""
    names = list(regressors)
    return prophet_fit_predict(
        day_numbers(history["ds"]),
        history["y"].to_numpy(dtype=float),
        day_numbers(future["ds"]),
        freq=freq,
        country=country,
        regressors=history[names].to_numpy(dtype=float) if names else None,
        future_regressors=future[names].to_numpy(dtype=float) if names else None,
    )
