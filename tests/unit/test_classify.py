import dataclasses

import numpy as np
import pytest

from forecasts.forecasting.classify import (
    ERRATIC,
    INTERMITTENT,
    LUMPY,
    SHORT,
    SMOOTH,
    ZERO,
    classify_demand,
    min_observations,
)

RNG_SEED = 7


def every_kth_day(sizes: np.ndarray, k: int) -> np.ndarray:
    """A daily series with demand on every k-th day only."""
    series = np.zeros(sizes.size * k)
    series[::k] = sizes
    return series


def test_steady_daily_demand_is_smooth():
    rng = np.random.default_rng(RNG_SEED)
    result = classify_demand(rng.poisson(20, 120))
    assert result.label == SMOOTH
    assert result.adi == pytest.approx(1.0)
    assert result.cv2 < 0.49


def test_daily_demand_with_wildly_varying_sizes_is_erratic():
    rng = np.random.default_rng(RNG_SEED)
    result = classify_demand(np.ceil(rng.lognormal(2.0, 1.2, 120)))
    assert result.label == ERRATIC
    assert result.adi < 1.32
    assert result.cv2 >= 0.49


def test_regular_sizes_on_sparse_days_are_intermittent():
    rng = np.random.default_rng(RNG_SEED)
    result = classify_demand(every_kth_day(rng.integers(9, 12, 40), k=4))
    assert result.label == INTERMITTENT
    assert result.adi == pytest.approx(4.0)


def test_varying_sizes_on_sparse_days_are_lumpy():
    rng = np.random.default_rng(RNG_SEED)
    result = classify_demand(every_kth_day(np.ceil(rng.lognormal(2.0, 1.2, 40)), k=4))
    assert result.label == LUMPY
    assert result.cv2 >= 0.49


def test_fewer_than_eight_weeks_of_observations_is_short():
    assert classify_demand(np.full(55, 10.0)).label == SHORT
    assert classify_demand(np.full(56, 10.0)).label == SMOOTH


def test_fewer_than_four_demand_days_is_short_however_long_the_history():
    series = np.zeros(400)
    series[[10, 200, 390]] = 5
    assert classify_demand(series).label == SHORT


def test_weekly_series_needs_eight_weeks():
    assert min_observations(1) == 8
    assert classify_demand(np.full(8, 100.0), min_obs=min_observations(1)).label == SMOOTH


def test_no_demand_at_all_is_zero_even_when_short():
    assert classify_demand(np.zeros(300)).label == ZERO
    assert classify_demand(np.zeros(5)).label == ZERO
    everything_censored = classify_demand(np.full(10, 3.0), censored=np.ones(10, dtype=bool))
    assert (everything_censored.label, everything_censored.n_obs) == (ZERO, 0)
    assert np.isnan(everything_censored.adi) and np.isnan(everything_censored.cv2)


def test_statistics_by_hand():
    # Two demands in six periods: ADI = 6 / 2; sizes 2 and 4 have mean 3 and sample variance 2.
    result = classify_demand([0, 2, 0, 4, 0, 0], min_obs=1, min_nonzero=1)
    assert (result.n_obs, result.n_nonzero) == (6, 2)
    assert result.adi == pytest.approx(3.0)
    assert result.cv2 == pytest.approx(2 / 9)


def test_censored_days_and_nan_are_not_observations():
    # Alternate stock-out days would make the series look intermittent if they counted as zero demand.
    qty = np.tile([10.0, 0.0], 60)
    censored = np.tile([False, True], 60)
    naive = classify_demand(qty)
    censored_aware = classify_demand(qty, censored)
    assert naive.adi == pytest.approx(2.0)
    assert censored_aware.adi == pytest.approx(1.0)
    assert censored_aware.n_obs == 60
    assert classify_demand(np.where(censored, np.nan, qty)) == censored_aware


def test_returns_are_not_negative_demand():
    result = classify_demand([5, -3, 5, 5], min_obs=1, min_nonzero=1)
    assert (result.n_obs, result.n_nonzero) == (4, 3)


def test_censored_mask_must_match_the_series():
    with pytest.raises(ValueError, match="shape"):
        classify_demand([1, 2, 3], censored=[True, False])


def test_demand_class_is_frozen():
    result = classify_demand(np.full(60, 4.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.label = LUMPY


def test_weekly_series_with_demand_every_other_week_is_intermittent():
    weeks = np.tile([40.0, 0.0], 20)
    result = classify_demand(weeks, min_obs=min_observations(1))
    assert (result.label, result.adi) == (INTERMITTENT, pytest.approx(2.0))
