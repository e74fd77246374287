import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from forecasts.forecasting.aggregation import adida_forecast, imapa_forecast
from forecasts.forecasting.baselines import (
    blend_forecasts,
    moving_average_forecast,
    naive_forecast,
    seasonal_level_forecast,
    seasonal_naive_forecast,
    zero_forecast,
)
from forecasts.forecasting.intermittent import tsb_forecast
from forecasts.forecasting.prophet_model import (
    _holiday_days,
    _map_design,
    estimate_prophet,
    holiday_indicators,
    prophet_fit_predict,
    prophet_forecast,
    prophet_objective,
    prophet_problem,
    prophet_widening,
)
from forecasts.forecasting.prophet_reference import prophet_package
from forecasts.forecasting.quantiles import (
    Z_P90,
    QuantileForecast,
    negative_binomial_quantile,
    poisson_quantile,
    z_for,
)

demand_values = st.one_of(st.just(float("nan")), st.floats(min_value=-5, max_value=1e4))
demand_series = st.lists(demand_values, min_size=0, max_size=60).map(np.asarray)


def test_z_values_are_scipys_standard_normal_quantiles_to_the_last_bit():
    assert float(stats.norm.ppf(0.9)) == Z_P90
    levels = np.linspace(0.5, 0.9999, 10_001)
    np.testing.assert_array_equal(z_for(levels), stats.norm.ppf(levels))


def test_seasonal_naive_repeats_the_last_season():
    history = np.array([1, 2, 3, 4, 5, 6, 7, 10, 20, 30, 40, 50, 60, 70], dtype=float)
    result = seasonal_naive_forecast(history, horizon=10, season=7)
    np.testing.assert_allclose(result.p50, [10, 20, 30, 40, 50, 60, 70, 10, 20, 30])


def test_seasonal_naive_fills_a_censored_period_from_the_season_before():
    history = np.array([1, 2, 3, 4, 5, 6, 7, 10, np.nan, 30, 40, 50, 60, 70])
    result = seasonal_naive_forecast(history, horizon=7, season=7)
    assert result.p50[1] == 2


def test_seasonal_naive_spread_is_the_90th_percentile_of_seasonal_differences_growing_by_season():
    history = np.array([1, 2, 3, 4, 5, 6, 7, 10, 20, 30, 40, 50, 60, 70], dtype=float)
    spread = np.quantile(history[7:] - history[:-7], 0.9)
    result = seasonal_naive_forecast(history, horizon=14, season=7)
    np.testing.assert_allclose(result.p90[:7] - result.p50[:7], spread)
    np.testing.assert_allclose(result.p90[7:] - result.p50[7:], spread * np.sqrt(2))


def test_moving_average_uses_the_recent_window_and_its_90th_percentile():
    history = np.array([100, 100, 1, 2, np.nan, 3, 4], dtype=float)
    result = moving_average_forecast(history, horizon=3, window=4)
    np.testing.assert_allclose(result.p50, 2.5)
    np.testing.assert_allclose(result.p90, np.quantile([1, 2, 3, 4], 0.9))


def test_tsb_by_hand():
    # Start p = 2/5, z = 4; periods 0,4,0,0,4 with alpha = beta = 0.5 end at p = 0.575, z = 4.
    result = tsb_forecast([0, 4, 0, 0, 4], horizon=3, alpha=0.5, beta=0.5)
    np.testing.assert_allclose(result.p50, 2.3)
    mean, variance = 2.3, 0.575 * 16 - 2.3**2
    expected_p90 = stats.nbinom.ppf(0.9, mean**2 / (variance - mean), mean / variance)
    np.testing.assert_allclose(result.p90, expected_p90)


def test_tsb_decays_when_a_product_stops_selling():
    selling = np.tile([0, 0, 6, 0], 50).astype(float)
    stopped = np.concatenate([selling, np.zeros(60)])
    assert tsb_forecast(stopped, 1).p50[0] < tsb_forecast(selling, 1).p50[0]


def test_tsb_skips_censored_periods():
    selling = np.tile([0, 0, 6, 0], 50).astype(float)
    with_stockouts = np.concatenate([selling, np.full(60, np.nan)])
    np.testing.assert_allclose(tsb_forecast(with_stockouts, 5).p50, tsb_forecast(selling, 5).p50)


def test_zero_forecast():
    result = zero_forecast(4)
    assert result.p50.tolist() == [0, 0, 0, 0] and result.p90.tolist() == [0, 0, 0, 0]


def test_prophet_widening_starts_near_one_and_grows():
    factor = prophet_widening(400, 28)
    assert factor[0] == pytest.approx(1.0, abs=0.02)
    assert np.all(np.diff(factor) > 0)


@given(demand_series, st.integers(1, 30), st.integers(1, 10))
def test_baselines_are_non_negative_and_never_cross(history, horizon, season):
    for result in (
        seasonal_naive_forecast(history, horizon, season),
        seasonal_level_forecast(history, horizon, season, level_window=3),
        moving_average_forecast(history, horizon, season),
        naive_forecast(history, horizon),
        tsb_forecast(history, horizon),
        adida_forecast(history, horizon),
        imapa_forecast(history, horizon),
    ):
        assert result.p50.shape == result.p90.shape == (horizon,)
        assert np.all(np.isfinite(result.p50)) and np.all(np.isfinite(result.p90))
        assert np.all(result.p50 >= 0)
        assert np.all(result.p50 <= result.p90)


# --- naive baselines, blending, discrete quantiles ------------------------------------------------------------


def test_naive_repeats_the_last_known_value_and_widens_with_the_square_root_of_the_step():
    history = np.array([3.0, 5.0, 4.0, 8.0, np.nan])
    spread = np.quantile(np.diff([3.0, 5.0, 4.0, 8.0]), 0.9)
    result = naive_forecast(history, horizon=4)
    np.testing.assert_allclose(result.p50, 8.0)
    np.testing.assert_allclose(result.p90 - result.p50, spread * np.sqrt([1, 2, 3, 4]))


def test_seasonal_level_forecast_moves_last_season_to_the_current_level():
    # Season 4; this season runs 2 above the last one, so the level added is the mean seasonal difference, 2.
    history = np.array([1, 2, 3, 4, 3, 4, 5, 6], dtype=float)
    result = seasonal_level_forecast(history, horizon=6, season=4, level_window=4)
    np.testing.assert_allclose(result.p50, [5, 6, 7, 8, 5, 6])
    # The in-sample errors of that rule are all zero after the first difference.
    assert np.all(result.p90 >= result.p50)


def test_seasonal_level_forecast_without_a_full_season_is_the_seasonal_naive():
    history = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(
        seasonal_level_forecast(history, 3, season=4, level_window=2).p50,
        seasonal_naive_forecast(history, 3, season=4).p50,
    )


def test_blend_averages_each_quantile():
    blended = blend_forecasts(
        QuantileForecast(np.array([2.0, 4.0]), np.array([3.0, 6.0])),
        QuantileForecast(np.array([4.0, 0.0]), np.array([7.0, 1.0])),
    )
    np.testing.assert_allclose(blended.p50, [3.0, 2.0])
    np.testing.assert_allclose(blended.p90, [5.0, 3.5])


@given(st.floats(0.01, 0.99), st.floats(0.01, 200.0))
def test_poisson_quantile_matches_scipy(q, mean):
    assert poisson_quantile(q, mean) == stats.poisson.ppf(q, mean)


@given(st.floats(0.01, 0.99), st.floats(0.05, 50.0), st.floats(0.01, 0.99))
def test_negative_binomial_quantile_matches_scipy(q, n, p):
    assert negative_binomial_quantile(q, n, p) == stats.nbinom.ppf(q, n, p)


# --- Prophet -------------------------------------------------------------------------------------------------

START_DAY = int(np.datetime64("2023-01-02", "D").astype(np.int64))


def daily_demand(days: int, seed: int = 0) -> np.ndarray:
    """Poisson demand with a weekday pattern, a yearly wave and a gentle trend."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    weekend = (t % 7) >= 5  # START_DAY is a Monday
    mean = 30 + 12 * weekend + 8 * np.sin(2 * np.pi * t / 365.25) + 0.01 * t
    return rng.poisson(mean).astype(float)


def test_prophet_forecast_is_non_negative_with_p90_above_p50():
    y = np.clip(daily_demand(400) - 35, 0, None)  # mostly near zero: the linear model goes below it
    days = START_DAY + np.arange(400)
    result = prophet_fit_predict(days, y, days[-1] + np.arange(1, 61))
    assert result.p50.shape == result.p90.shape == (60,)
    assert np.all(result.p50 >= 0) and np.all(result.p50 <= result.p90)


def test_prophet_on_a_constant_history_forecasts_the_constant():
    days = START_DAY + np.arange(100)
    result = prophet_fit_predict(days, np.full(100, 7.0), days[-1] + np.arange(1, 8))
    np.testing.assert_allclose(result.p50, 7.0)


def test_prophet_rejects_an_unknown_optimizer():
    days = START_DAY + np.arange(30)
    with pytest.raises(ValueError, match="optimizer"):
        prophet_fit_predict(days, np.arange(30.0), days[-1] + np.arange(1, 3), optimizer="adam")


def _weekly_store_sales(weeks: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(weeks)
    holiday = (t % 52 == 47).astype(float)
    sales = 1000 + 200 * np.sin(2 * np.pi * t / 52.18) + 400 * holiday + rng.normal(0, 40, weeks)
    return START_DAY + 7 * t, sales, holiday


@pytest.mark.parametrize("case", ["daily with holidays and a censored stretch", "weekly with a regressor"])
def test_numpy_map_reaches_at_least_stans_optimum(case):
    """The default solver finds Prophet's MAP estimate at least as well as Prophet's own Stan optimiser."""
    if case.startswith("daily"):
        y = daily_demand(730, seed=3)
        y[300:320] = np.nan
        days = START_DAY + np.arange(730)
        arguments = dict(days=days, y=y, future_days=days[-1] + np.arange(1, 29), country="DE")
    else:
        days, sales, holiday = _weekly_store_sales(117)
        arguments = dict(
            days=days,
            y=sales,
            future_days=days[-1] + 7 * np.arange(1, 14),
            freq="W",
            regressors=holiday[:, None],
            future_regressors=np.zeros((13, 1)),
        )
    problem = prophet_problem(**arguments)
    n = problem.n_fitted

    def objective(optimizer: str) -> float:
        k, m, delta, beta = estimate_prophet(problem, optimizer)
        theta = np.r_[k, m, delta, beta]
        fitted = _map_design(problem.t[:n], problem.t_change, problem.features[:n]) @ theta
        sigma = float(np.sqrt(np.mean((problem.y - fitted) ** 2)))
        # Evaluate both at their own best noise level, so only the trend and seasonality estimates are compared.
        best = min(
            (
                prophet_objective(
                    problem.t[:n], problem.y, problem.t_change, problem.features[:n], problem.prior_scales, theta, s
                ),
                s,
            )
            for s in sigma * np.linspace(0.9, 1.1, 201)
        )
        return best[0]

    assert objective("mm") <= objective("stan") + 1e-6
    ours = prophet_fit_predict(**arguments).p50
    stans = prophet_fit_predict(**arguments, optimizer="stan").p50
    assert np.abs(ours - stans).max() <= 0.02 * np.abs(stans).mean()


def test_forecast_matches_the_prophet_package_fitting_the_same_model():
    """The same model as ``prophet.Prophet``: forecasts agree to within Stan's imprecision (its L-BFGS stops short
    of the optimum; the largest gap is a holiday seen once in the history, whose effect is weakly determined)."""
    prophet = prophet_package()
    y = daily_demand(500, seed=5)
    y[200:215] = np.nan
    promo = (np.arange(528) % 9 < 2).astype(float)
    y[promo[:500] == 1] += 15
    dates = pd.date_range("2023-01-02", periods=528, freq="D")
    history = pd.DataFrame({"ds": dates[:500], "y": y, "promo": promo[:500]})
    future = pd.DataFrame({"ds": dates[500:], "promo": promo[500:]})

    reference = prophet.Prophet(
        weekly_seasonality=3, yearly_seasonality=10, daily_seasonality=False, uncertainty_samples=0
    )
    reference.add_country_holidays(country_name="US")
    reference.add_regressor("promo")
    reference.fit(history)
    expected = reference.predict(future)["yhat"].clip(lower=0).to_numpy()

    ours = prophet_forecast(history, future, country="US", regressors=["promo"]).p50
    assert np.abs(ours - expected).mean() <= 0.005 * expected.mean()
    assert np.abs(ours - expected).max() <= 0.05 * expected.mean()


def test_holiday_indicators_equal_a_set_test_per_holiday_and_mark_a_shared_day_in_both():
    days = np.arange(19_700, 20_500, dtype=np.int64)[::-1]  # any order
    holidays = _holiday_days("US", 2023, 2026) + (("Shared", np.array([19_723, 20_000])),)
    got = holiday_indicators(days, holidays)
    # The per-holiday np.isin the design used before: the reference.
    expected = np.column_stack([np.isin(days, holiday).astype(float) for _, holiday in holidays])
    np.testing.assert_array_equal(got, expected)
    assert got[days == 19_723].sum() == 2  # New Year's Day 2024 and the added holiday
    assert holiday_indicators(days, ()).shape == (days.size, 0)
