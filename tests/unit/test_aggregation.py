import numpy as np
import pytest
from scipy import stats

from forecasts.forecasting.aggregation import (
    adida_forecast,
    aggregate_rate,
    imapa_forecast,
    mean_interval,
    ses_level,
)
from forecasts.forecasting.quantiles import bernoulli_size_p90, rate_p90


def test_ses_level_by_hand():
    # alpha 0.5: the level starts at 3, then 3 + 0.5·(0 − 3) = 1.5, then 1.5 + 0.5·(5 − 1.5) = 3.25.
    assert ses_level([3.0, 0.0, 5.0], [0.5]) == pytest.approx(3.25)


def test_ses_level_picks_the_alpha_of_the_lowest_in_sample_error():
    # On [0, 4, 4] alpha 0.3 tracks the step better than 0.1 (errors 16 + 2.8² against 16 + 3.6²): 0 → 1.2 → 2.04.
    assert ses_level([0.0, 4.0, 4.0], [0.1, 0.3]) == pytest.approx(2.04)


def test_mean_interval_counts_the_first_interval_from_the_start():
    # Sales at positions 2, 5 and 9: intervals 3, 3 and 4.
    assert mean_interval(np.array([0, 0, 1, 0, 0, 1, 0, 0, 0, 1.0])) == pytest.approx(10 / 3)


def test_aggregate_rate_leaves_out_the_oldest_periods_that_do_not_fill_a_bucket():
    # Seven periods in buckets of two: the first is left out, the buckets [4, 0] sum to 4 each, 4 / 2 per period.
    assert aggregate_rate(np.array([9, 4, 0, 4, 0, 4, 0.0]), 2) == pytest.approx(2.0)


def test_adida_of_a_constant_series_is_the_constant():
    result = adida_forecast(np.full(10, 2.0), horizon=3)
    np.testing.assert_allclose(result.p50, [2.0, 2.0, 2.0])


def test_adida_of_a_strictly_periodic_series_spreads_the_bucket_evenly():
    # A sale of 4 every third month: buckets of three months each sum to 4, so 4 / 3 a month.
    result = adida_forecast(np.tile([0.0, 0.0, 4.0], 4), horizon=2)
    np.testing.assert_allclose(result.p50, [4 / 3, 4 / 3])


def test_adida_skips_censored_periods_and_forecasts_zero_without_demand():
    periodic = np.tile([0.0, 0.0, 4.0], 4)
    with_stockouts = np.insert(periodic, [3, 6], np.nan)
    np.testing.assert_allclose(adida_forecast(with_stockouts, 2).p50, adida_forecast(periodic, 2).p50)
    np.testing.assert_array_equal(adida_forecast(np.zeros(12), 2).p50, [0.0, 0.0])
    np.testing.assert_array_equal(imapa_forecast(np.zeros(12), 2).p90, [0.0, 0.0])


def test_imapa_averages_the_aggregate_forecasts_up_to_the_adida_bucket():
    # A sale of 2 every other month: buckets of two give exactly 1 a month, single months give SES on 0, 2, 0, 2.
    history = np.tile([0.0, 2.0], 4)
    expected = (ses_level(history) + 1.0) / 2
    np.testing.assert_allclose(imapa_forecast(history, 2).p50, [expected, expected])
    assert imapa_forecast(np.full(6, 3.0), 1).p50[0] == pytest.approx(3.0)


def test_aggregation_p90_is_the_rate_p90_of_the_history():
    history = np.array([0, 0, 5, 0, 1, 0, 0, 9, 0, 0, 2, 0.0])
    result = adida_forecast(history, 2)
    expected = rate_p90(history, result.p50[0])
    np.testing.assert_array_equal(result.p90, [expected, expected])
    assert result.p90[0] >= result.p50[0]


def test_rate_p90_takes_the_probability_and_size_from_the_history():
    # Sales in 4 of 12 periods (p = 1/3), sizes 5, 1, 9, 2 (sample variance 12.25); rate 1.5 → size 4.5, variance
    # p·(12.25 + 4.5²) − 1.5² = 8.5833 above the mean: a negative binomial of that mean and variance.
    history = np.array([0, 0, 5, 0, 1, 0, 0, 9, 0, 0, 2, 0.0])
    variance = (12.25 + 4.5**2) / 3 - 1.5**2
    expected = stats.nbinom.ppf(0.9, 1.5**2 / (variance - 1.5), 1.5 / variance)
    assert rate_p90(history, 1.5) == expected
    assert bernoulli_size_p90(0.0, 0.5, 0.0, 0.0) == 0.0
