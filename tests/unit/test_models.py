import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from forecasts.models import (
    moving_average_forecast,
    prophet_widening,
    seasonal_naive_forecast,
    tsb_forecast,
    zero_forecast,
)

demand_values = st.one_of(st.just(float("nan")), st.floats(min_value=-5, max_value=1e4))
demand_series = st.lists(demand_values, min_size=0, max_size=60).map(np.asarray)


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
        moving_average_forecast(history, horizon, season),
        tsb_forecast(history, horizon),
    ):
        assert result.p50.shape == result.p90.shape == (horizon,)
        assert np.all(np.isfinite(result.p50)) and np.all(np.isfinite(result.p90))
        assert np.all(result.p50 >= 0)
        assert np.all(result.p50 <= result.p90)
