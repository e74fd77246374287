import numpy as np
import pandas as pd
import pytest

from forecasts.forecasting.engine import forecast_many, forecast_series
from forecasts.forecasting.periods import DAILY, MONTHLY, values_on_days

START = pd.Timestamp("2024-01-01")


def reindexed(target_days: np.ndarray, frame: pd.DataFrame, freq: str) -> np.ndarray:
    """The pandas lookup the engine used per series before `values_on_days`: the reference it must equal."""
    dates = pd.to_datetime(frame["date"]).dt.normalize()
    if freq == MONTHLY:
        dates = dates.dt.to_period("M").dt.to_timestamp()
    values = frame.assign(date=dates).drop_duplicates("date", keep="last").set_index("date")[["a", "b"]]
    return values.reindex(pd.to_datetime(target_days.astype("datetime64[D]"))).to_numpy(dtype=float)


def day_numbers(dates: pd.Series) -> np.ndarray:
    return dates.to_numpy().astype("datetime64[D]").astype(np.int64)


@pytest.mark.parametrize("freq", [DAILY, MONTHLY])
def test_values_on_days_equals_the_pandas_reindex_with_duplicates_and_any_order(freq):
    rng = np.random.default_rng(5)
    step = "D" if freq == DAILY else "MS"
    covered = pd.date_range(START, periods=20, freq=step)
    # Every target has rows, some several (the last counts), in shuffled order; monthly rows fall anywhere in
    # their month, and a row with a NaN is overridden by a later one of the same day.
    dates = pd.Series(covered.repeat(rng.integers(1, 4, covered.size)))
    if freq == MONTHLY:
        dates = dates + pd.to_timedelta(rng.integers(0, 28, dates.size), unit="D")
    frame = pd.DataFrame({"date": dates, "a": rng.random(dates.size), "b": rng.integers(0, 2, dates.size) * 1.0})
    frame = frame.sample(frac=1.0, random_state=1, ignore_index=True)
    frame.loc[frame.index[0], "a"] = np.nan
    frame = pd.concat([frame, frame.iloc[[0]].assign(a=7.0)], ignore_index=True)
    targets = day_numbers(pd.Series(covered[3:15]))

    got = values_on_days(targets, day_numbers(frame["date"]), frame[["a", "b"]].to_numpy(), freq)
    np.testing.assert_array_equal(got, reindexed(targets, frame, freq))
    assert not np.isnan(got).any()


def test_values_on_days_names_a_forecast_day_without_a_value():
    days = day_numbers(pd.Series(pd.date_range(START, periods=5)))
    values = np.ones((5, 1))
    values[3] = np.nan
    targets = days[2:] + 1  # the last one is past the rows, the second has only a NaN
    with pytest.raises(ValueError, match="no values for 2 forecast dates, e.g. 2024-01-04"):
        values_on_days(targets, days, values, DAILY)
    with pytest.raises(ValueError, match="no values for 1 forecast dates"):
        values_on_days(targets[:1], days[:0], values[:0], DAILY)


def test_forecast_many_takes_each_series_future_from_interleaved_rows_as_forecast_series_does():
    rng = np.random.default_rng(8)
    days = pd.date_range(START, periods=100)
    frames, futures = [], []
    for number, name in enumerate(["p", "q", "r"]):
        promo = (np.arange(100) % (5 + number) == 0).astype(float)
        frames.append(pd.DataFrame({"series_id": name, "date": days, "qty": rng.poisson(20 + 25 * promo) * 1.0}))
        frames[-1]["promo"] = promo
        future_dates = pd.date_range(START + pd.Timedelta(days=100), periods=5)
        futures.append(pd.DataFrame({"series_id": name, "date": future_dates, "promo": [0, 1, 0, number % 2, 1.0]}))
    frame = pd.concat(frames, ignore_index=True)
    future = pd.concat(futures, ignore_index=True).sample(frac=1.0, random_state=2)

    many = forecast_many(frame, horizon=5, regressors=["promo"], future_regressors=future, choose_by_class=False)
    for name in ["p", "q", "r"]:
        single = forecast_series(
            frame[frame["series_id"] == name],
            horizon=5,
            regressors=["promo"],
            future_regressors=future[future["series_id"] == name],
        )
        got = many[many["series_id"] == name].reset_index(drop=True)
        pd.testing.assert_frame_equal(got[["date", "p50", "p90"]], single.forecast)
