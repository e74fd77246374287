import math

import pytest

from forecasts.forecasting.metrics import bias, mase, pinball, wape

ACTUAL = [10, 0, 5, 5]
FORECAST = [8, 2, 5, 7]


def test_wape_by_hand():
    # |errors| 2 + 2 + 0 + 2 over 20 units sold.
    assert wape(ACTUAL, FORECAST) == pytest.approx(0.3)


def test_bias_by_hand():
    # Over-forecast -2 + 2 + 0 + 2 over 20 units sold.
    assert bias(ACTUAL, FORECAST) == pytest.approx(0.1)
    assert bias(ACTUAL, [0, 0, 0, 0]) == pytest.approx(-1.0)


def test_mase_by_hand():
    # Seasonal naive with season 2 on 1, 3, 2, 4, 3, 5 is off by 1 every time; the forecast MAE is 1.5.
    assert mase(ACTUAL, FORECAST, insample=[1, 3, 2, 4, 3, 5], season=2) == pytest.approx(1.5)


def test_pinball_by_hand():
    # q = 0.9: under by 2 costs 1.8, over by 2 costs 0.2 (twice), exact costs 0.
    assert pinball(ACTUAL, FORECAST, 0.9) == pytest.approx((1.8 + 0.2 + 0 + 0.2) / 4)
    assert pinball(ACTUAL, FORECAST, 0.5) == pytest.approx(0.75)


def test_no_demand_gives_nan():
    assert math.isnan(wape([0, 0], [1, 2]))
    assert math.isnan(bias([0, 0], [1, 2]))
    assert math.isnan(mase([1, 2], [1, 2], insample=[4, 4, 4], season=1))


def test_nan_pairs_are_left_out():
    nan = float("nan")
    assert wape([10, nan, 5, 5], [8, 2, 5, nan]) == pytest.approx(2 / 15)
    assert math.isnan(pinball([nan], [1.0], 0.9))


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        wape([1, 2], [1])
    with pytest.raises(ValueError, match="q must be"):
        pinball([1], [1], 1.0)
    with pytest.raises(ValueError, match="season"):
        mase([1], [1], [1, 2], season=0)


def test_mase_scale_skips_censored_in_sample_pairs():
    nan = float("nan")
    # Known seasonal differences (season 1): |3 - 1| and |4 - 3| only; the pairs touching NaN are left out.
    assert mase([2.0], [3.5], insample=[1, 3, 4, nan, 9], season=1) == pytest.approx(1.5 / 1.5)
