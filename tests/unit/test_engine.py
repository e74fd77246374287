import numpy as np
import pandas as pd
import pytest

from forecasts.forecasting import engine, models
from forecasts.forecasting.engine import MANY_COLUMNS, forecast_many, forecast_series

START = pd.Timestamp("2024-01-01")


def daily_history(qty: np.ndarray, start: pd.Timestamp = START, **columns: object) -> pd.DataFrame:
    return pd.DataFrame({"date": pd.date_range(start, periods=len(qty), freq="D"), "qty": qty, **columns})


def smooth_weekly_pattern(days: int, seed: int = 0) -> np.ndarray:
    """Around 20 units on weekdays and 35 on weekends."""
    rng = np.random.default_rng(seed)
    weekend = pd.date_range(START, periods=days, freq="D").day_of_week >= 5
    return rng.poisson(np.where(weekend, 35, 20)).astype(float)


def sparse_demand(days: int, sizes: np.ndarray, every: int = 4) -> np.ndarray:
    qty = np.zeros(days)
    qty[::every] = sizes[: len(qty[::every])]
    return qty


def assert_valid_quantiles(forecast: pd.DataFrame) -> None:
    assert list(forecast.columns) == ["date", "p50", "p90"]
    assert (forecast["p50"] >= 0).all()
    assert (forecast["p50"] <= forecast["p90"]).all()


def test_smooth_series_goes_to_prophet_which_captures_the_weekly_pattern():
    result = forecast_series(daily_history(smooth_weekly_pattern(210)), horizon=14, country="DE")
    assert result.model == models.PROPHET
    assert result.demand_class.label == "smooth"
    assert result.fallback_reason is None
    forecast = result.forecast
    assert_valid_quantiles(forecast)
    assert forecast["date"].iloc[0] == START + pd.Timedelta(days=210)
    assert (forecast["date"].diff().dropna() == pd.Timedelta(days=1)).all()
    weekend = forecast["date"].dt.day_of_week >= 5
    assert forecast.loc[weekend, "p50"].mean() > forecast.loc[~weekend, "p50"].mean() + 8


def test_erratic_series_goes_to_prophet_and_stays_non_negative():
    rng = np.random.default_rng(3)
    result = forecast_series(daily_history(np.ceil(rng.lognormal(0.5, 1.3, 150))), horizon=28)
    assert result.demand_class.label == "erratic"
    assert result.model == models.PROPHET
    assert_valid_quantiles(result.forecast)


def test_stockout_days_are_censored_not_zero_demand():
    qty = smooth_weekly_pattern(180, seed=1)
    stockout = np.zeros(180, dtype=bool)
    stockout[120:150] = True
    qty[stockout] = 0
    censored = forecast_series(daily_history(qty, censored=stockout), horizon=14)
    as_zero_demand = forecast_series(daily_history(qty, censored=np.zeros(180, dtype=bool)), horizon=14)
    assert censored.demand_class.n_obs == 150
    assert censored.forecast["p50"].mean() > as_zero_demand.forecast["p50"].mean() + 3


def test_intermittent_and_lumpy_series_go_to_tsb():
    rng = np.random.default_rng(5)
    intermittent = forecast_series(daily_history(sparse_demand(200, rng.integers(9, 12, 50))), horizon=7)
    lumpy = forecast_series(daily_history(sparse_demand(200, np.ceil(rng.lognormal(2, 1.2, 50)))), horizon=7)
    assert (intermittent.demand_class.label, intermittent.model) == ("intermittent", models.TSB)
    assert (lumpy.demand_class.label, lumpy.model) == ("lumpy", models.TSB)
    assert_valid_quantiles(intermittent.forecast)
    assert_valid_quantiles(lumpy.forecast)


def test_short_series_use_seasonal_naive_with_two_seasons_else_moving_average():
    two_weeks = forecast_series(daily_history(np.arange(1.0, 22.0)), horizon=7)
    one_week = forecast_series(daily_history(np.arange(1.0, 11.0)), horizon=7)
    assert (two_weeks.demand_class.label, two_weeks.model) == ("short", models.SEASONAL_NAIVE)
    assert two_weeks.forecast["p50"].tolist() == [15, 16, 17, 18, 19, 20, 21]
    assert (one_week.demand_class.label, one_week.model) == ("short", models.MOVING_AVERAGE)
    assert one_week.forecast["p50"].tolist() == [5.5] * 7


def test_series_without_demand_forecasts_zeros():
    result = forecast_series(daily_history(np.zeros(90)), horizon=5)
    assert (result.demand_class.label, result.model) == ("zero", models.ZERO)
    assert result.forecast[["p50", "p90"]].to_numpy().sum() == 0


def test_weekly_forecast_dates_keep_the_weekday_of_the_history():
    wednesdays = pd.date_range("2023-01-04", periods=70, freq="7D")
    rng = np.random.default_rng(2)
    history = pd.DataFrame({"date": wednesdays, "qty": rng.poisson(100, 70)})
    result = forecast_series(history, horizon=6, freq="W")
    assert result.model == models.PROPHET_BLEND
    assert (result.forecast["date"].dt.day_of_week == 2).all()
    assert result.forecast["date"].iloc[0] == wednesdays[-1] + pd.Timedelta(days=7)
    short = forecast_series(history.tail(5), horizon=3, freq="W")
    assert short.model == models.MOVING_AVERAGE
    assert (short.forecast["date"].dt.day_of_week == 2).all()


def test_missing_days_are_zero_demand():
    history = daily_history(np.full(100, 10.0)).drop(index=range(10, 60, 2))
    result = forecast_series(history, horizon=3)
    assert result.demand_class.n_obs == 100
    assert result.demand_class.n_nonzero == 75


def test_promotion_regressor_lifts_the_forecast_on_promotion_days():
    rng = np.random.default_rng(4)
    promo = (np.arange(200) % 10 < 2).astype(float)
    history = daily_history(rng.poisson(20 + 30 * promo).astype(float), promo=promo)
    future_dates = pd.date_range(START + pd.Timedelta(days=200), periods=10, freq="D")
    future = pd.DataFrame({"date": future_dates, "promo": [1.0, 1.0] + [0.0] * 8})
    result = forecast_series(history, horizon=10, regressors=["promo"], future_regressors=future)
    assert result.model == models.PROPHET
    assert result.forecast["p50"].iloc[:2].min() > result.forecast["p50"].iloc[2:].max() + 15


def test_regressors_need_values_for_every_forecast_date():
    history = daily_history(np.full(60, 5.0), promo=np.zeros(60))
    future = pd.DataFrame({"date": [START + pd.Timedelta(days=60)], "promo": [1.0]})
    with pytest.raises(ValueError, match="no values for 1 forecast dates"):
        forecast_series(history, horizon=2, regressors=["promo"], future_regressors=future)


def test_prophet_failure_falls_back_to_a_baseline(monkeypatch):
    def failing_prophet(*args, **kwargs):
        raise RuntimeError("optimisation failed")

    monkeypatch.setattr(engine.models, "prophet_fit_predict", failing_prophet)
    result = forecast_series(daily_history(smooth_weekly_pattern(100)), horizon=7)
    assert result.model == models.SEASONAL_NAIVE
    assert result.fallback_reason == "RuntimeError: optimisation failed"
    assert_valid_quantiles(result.forecast)


@pytest.mark.parametrize(
    ("history", "kwargs", "message"),
    [
        (pd.DataFrame({"date": [START]}), {}, "missing columns: qty"),
        (daily_history(np.ones(3)), {"freq": "Q"}, "freq must be one of"),
        (daily_history(np.ones(3)), {"horizon": 0}, "horizon must be at least 1"),
        (pd.DataFrame({"date": [START, START], "qty": [1, 2]}), {}, "more than one row"),
        (
            pd.DataFrame({"date": [START, START + pd.Timedelta(days=8)], "qty": [1, 2]}),
            {"freq": "W"},
            "weekday",
        ),
        (daily_history(np.ones(3)), {"country": "Atlantis"}, "no holiday calendar"),
    ],
)
def test_bad_inputs_are_rejected_with_a_clear_message(history, kwargs, message):
    with pytest.raises(ValueError, match=message):
        forecast_series(history, **{"horizon": 3, **kwargs})


def long_frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    series = {
        "smooth-a": smooth_weekly_pattern(120, seed=1),
        "smooth-b": smooth_weekly_pattern(120, seed=2),
        "intermittent": sparse_demand(120, rng.integers(9, 12, 30)),
        "lumpy": sparse_demand(120, np.ceil(rng.lognormal(2, 1.2, 30))),
        "short": np.arange(1.0, 16.0),
        "zero": np.zeros(40),
    }
    frames = [daily_history(qty).assign(series_id=series_id) for series_id, qty in series.items()]
    # Shuffled so the result's ordering cannot come from the input's.
    return pd.concat(frames, ignore_index=True).sample(frac=1.0, random_state=0)


def test_forecast_many_in_parallel_equals_in_process_and_reports_progress(monkeypatch):
    monkeypatch.setattr(engine, "MIN_SERIES_PER_WORKER", 1)
    frame = long_frame()
    calls: list[tuple[int, int]] = []
    in_process = forecast_many(frame, horizon=7, chunk_size=2, countries={"smooth-a": "DE"})
    parallel = forecast_many(
        frame,
        horizon=7,
        chunk_size=2,
        countries={"smooth-a": "DE"},
        n_jobs=2,
        progress=lambda *c: calls.append(c),
    )
    pd.testing.assert_frame_equal(parallel, in_process)
    assert list(parallel.columns) == MANY_COLUMNS
    assert parallel["series_id"].tolist() == sorted(frame["series_id"].unique().repeat(7))
    models_used = parallel.drop_duplicates("series_id").set_index("series_id")["model"].to_dict()
    assert models_used == {
        "intermittent": models.TSB,
        "lumpy": models.TSB,
        "short": models.SEASONAL_NAIVE,
        "smooth-a": models.PROPHET,
        "smooth-b": models.PROPHET,
        "zero": models.ZERO,
    }
    assert [done for done, _ in calls] == [2, 4, 6] and {total for _, total in calls} == {6}
    assert (parallel["p50"] >= 0).all() and (parallel["p50"] <= parallel["p90"]).all()


def test_forecast_many_matches_forecast_series_and_passes_regressors():
    frame = long_frame()
    frame["promo"] = 0.0
    single = frame[frame["series_id"] == "smooth-b"]
    future = pd.DataFrame(
        {
            "series_id": "smooth-b",
            "date": pd.date_range(START + pd.Timedelta(days=120), periods=3),
            "promo": 0.0,
        }
    )
    many = forecast_many(frame, horizon=3, regressors=["promo"], future_regressors=future)
    expected = forecast_series(single, horizon=3, regressors=["promo"], future_regressors=future)
    got = many[many["series_id"] == "smooth-b"].reset_index(drop=True)
    pd.testing.assert_frame_equal(got[["date", "p50", "p90"]], expected.forecast)
    assert got["adi"].iloc[0] == expected.demand_class.adi


def test_forecast_many_with_no_rows_returns_the_columns():
    empty = pd.DataFrame({"series_id": [], "date": pd.to_datetime([]), "qty": []})
    assert list(forecast_many(empty, horizon=3).columns) == MANY_COLUMNS


def test_weekly_series_with_a_year_and_a_quarter_blend_prophet_with_the_level_adjusted_seasonal_naive():
    mondays = pd.date_range("2022-01-03", periods=80, freq="7D")
    rng = np.random.default_rng(8)
    yearly = 100 + 30 * np.sin(2 * np.pi * np.arange(80) / 52.18)
    history = pd.DataFrame({"date": mondays, "qty": rng.normal(yearly, 5)})
    blended = forecast_series(history, horizon=13, freq="W")
    alone = forecast_series(history.tail(40), horizon=13, freq="W")
    assert blended.model == models.PROPHET_BLEND
    assert alone.model == models.PROPHET
    for result in (blended, alone):
        assert_valid_quantiles(result.forecast)
        assert (result.forecast["date"].dt.day_of_week == 0).all()


def test_regular_series_fills_the_grid():
    days = np.array([3, 0, 1, 5], dtype=np.int64)  # out of order, days 2 and 4 absent
    series = engine.regular_series(
        days,
        qty=np.array([4.0, -2.0, 7.0, 9.0]),
        freq="D",
        censored=np.array([False, False, True, False]),
        regressors=np.array([[2.0], [1.0], [np.nan], [3.0]]),
        regressor_names=["price"],
    )
    assert series.days.tolist() == [0, 1, 2, 3, 4, 5]
    # Returns count as zero demand, a stock-out as unknown, an absent day as zero demand.
    np.testing.assert_array_equal(series.y, [0.0, np.nan, 0.0, 4.0, 0.0, 9.0])
    # A price holds until it changes.
    np.testing.assert_array_equal(series.regressors[:, 0], [1.0, 1.0, 1.0, 2.0, 2.0, 3.0])
    assert series.future_days(2, "D").tolist() == [6, 7]


def test_forecast_many_names_the_series_a_problem_is_in():
    frame = long_frame()
    duplicate = frame[frame["series_id"] == "lumpy"].head(1)
    with pytest.raises(ValueError, match="series 'lumpy': history has more than one row"):
        forecast_many(pd.concat([frame, duplicate]), horizon=3)


def test_forecast_many_starts_no_workers_for_a_few_series(monkeypatch):
    def no_pool(*args, **kwargs):
        raise AssertionError("a process pool was started")

    monkeypatch.setattr(engine, "ProcessPoolExecutor", no_pool)
    result = forecast_many(long_frame(), horizon=2, n_jobs=4, chunk_size=1)
    assert result["series_id"].nunique() == 6
