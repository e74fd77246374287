"""Monthly buckets: calendar months dated by their first day, forecast and backtested like days and weeks."""

import json

import numpy as np
import pandas as pd
import pytest

from forecasts.forecasting import models
from forecasts.forecasting.backtest import run_backtest, summarise
from forecasts.forecasting.engine import forecast_many, forecast_series, regular_series
from forecasts.forecasting.monthly_buckets import complete_months, months_to_cover, split_buckets, spread_over_days
from forecasts.forecasting.periods import MONTHLY, month_numbers, period_days, period_positions
from orchestration.cli import main


def day_numbers(*dates: str) -> np.ndarray:
    return models.day_numbers(pd.to_datetime(pd.Series(dates)))


def seasonal_months(months: int, seed: int = 3) -> np.ndarray:
    """About 100 units a month, twice that in December, with noise."""
    rng = np.random.default_rng(seed)
    december = pd.date_range("2021-01-01", periods=months, freq="MS").month == 12
    return rng.normal(np.where(december, 200.0, 100.0), 6.0).round()


def test_any_day_of_a_month_is_that_month_and_periods_are_dated_by_its_first_day():
    days = day_numbers("2024-11-30", "2024-12-01", "2025-02-14")
    assert period_positions(days, MONTHLY).tolist() == [0, 1, 3]
    assert period_days(int(days[0]), np.arange(4), MONTHLY).astype("datetime64[D]").astype(str).tolist() == [
        "2024-11-01",
        "2024-12-01",
        "2025-01-01",
        "2025-02-01",
    ]
    assert month_numbers(day_numbers("1970-01-31", "2000-03-01")).tolist() == [0, 362]


def test_a_missing_month_is_zero_demand_and_a_month_given_twice_is_refused():
    series = regular_series(day_numbers("2024-01-31", "2024-03-31"), np.array([5.0, 7.0]), MONTHLY)
    assert series.y.tolist() == [5.0, 0.0, 7.0]
    assert series.future_days(2, MONTHLY).astype("datetime64[D]").astype(str).tolist() == ["2024-04-01", "2024-05-01"]
    with pytest.raises(ValueError, match=r"more than one row for months \['2024-03'\]"):
        regular_series(day_numbers("2024-03-01", "2024-03-31"), np.array([1.0, 2.0]), MONTHLY)


def test_a_seasonal_monthly_series_goes_to_prophet_which_sees_december_coming():
    history = pd.DataFrame({"date": pd.date_range("2021-01-31", periods=46, freq="ME"), "qty": seasonal_months(46)})
    result = forecast_series(history, 12, "M")
    assert result.model == models.PROPHET
    assert result.forecast["date"].dt.day.eq(1).all()
    assert result.forecast["date"].iloc[0] == pd.Timestamp("2024-11-01")
    december = result.forecast.set_index("date").loc["2024-12-01", "p50"]
    others = result.forecast.set_index("date").drop(pd.Timestamp("2024-12-01"))["p50"]
    assert december > 1.5 * others.mean()


def test_monthly_intermittent_demand_goes_to_tsb_and_a_few_months_are_short():
    qty = np.zeros(30)
    qty[[2, 7, 9, 15, 21, 26, 28]] = [3, 1, 4, 2, 5, 2, 3]
    history = pd.DataFrame({"date": pd.date_range("2022-01-01", periods=30, freq="MS"), "qty": qty})
    assert forecast_series(history, 6, "M").model == models.TSB
    assert forecast_series(history.head(8), 6, "M").demand_class.label == "short"


def test_a_monthly_backtest_scores_twelve_month_seasons_and_the_engine_beats_naive_on_seasonal_demand():
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "series_id": name,
                    "date": pd.date_range("2021-01-01", periods=48, freq="MS"),
                    "qty": seasonal_months(48, seed),
                }
            )
            for name, seed in (("a", 1), ("b", 2))
        ],
        ignore_index=True,
    )
    backtest = run_backtest(frame, 6, 2, "M")
    summary = summarise(backtest)
    assert backtest.season == 12 and summary["periods_scored"] == 24
    assert summary["methods"]["engine"]["mase"] < summary["methods"]["naive"]["mase"]
    assert forecast_many(frame, 3, "M")["date"].dt.day.eq(1).all()


def test_cmi_forecast_and_backtest_take_freq_m(tmp_path, capsys):
    frame = pd.DataFrame(
        {"series_id": "m", "date": pd.date_range("2021-01-01", periods=40, freq="MS") + pd.Timedelta(days=14)}
    ).assign(date=lambda f: f["date"].dt.strftime("%Y-%m-%d"), qty=seasonal_months(40))
    source = tmp_path / "monthly.csv"
    frame.to_csv(source, index=False)
    out = tmp_path / "forecast.csv"
    assert main(["forecast", "--input", str(source), "--horizon", "3", "--freq", "M", "--out", str(out)]) == 0
    assert pd.read_csv(out)["date"].tolist() == ["2024-05-01", "2024-06-01", "2024-07-01"]
    capsys.readouterr()
    assert main(["backtest", "--input", str(source), "--horizon", "3", "--origins", "2", "--freq", "M"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["season"] == 12 and report["periods_scored"] == 6


def daily_rows(series_id, first: str, qty: list[float], censored: list[bool] | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series_id": series_id,
            "date": pd.date_range(first, periods=len(qty), freq="D"),
            "qty": qty,
            "censored": censored if censored is not None else [False] * len(qty),
        }
    )


def test_a_monthly_bucket_keeps_only_complete_months_and_a_stock_out_day_leaves_its_month_unknown():
    # Series 1: from 15 January (a partial January) to 10 April (a running April), a stock-out in March.
    days = pd.date_range("2025-01-15", "2025-04-10", freq="D")
    qty = np.ones(len(days))
    qty[days == "2025-02-03"] = -4.0  # a net return is zero demand, as by day
    censored = days == "2025-03-09"
    # Series 2 sold nothing after January: its months still end with March.
    rows = pd.concat(
        [
            daily_rows(1, "2025-01-15", qty.tolist(), censored.tolist()),
            daily_rows(2, "2025-01-01", [2.0] * 3),
        ]
    )
    months = complete_months(rows, pd.Timestamp("2025-04-10"))
    assert months["date"].dt.strftime("%Y-%m").tolist() == ["2025-02", "2025-03", "2025-01", "2025-03"]
    assert months["series_id"].tolist() == [1, 1, 2, 2]
    assert months["qty"].tolist() == [27.0, 31.0, 6.0, 0.0]
    assert months["censored"].tolist() == [False, True, False, False]
    assert months_to_cover(pd.Timestamp("2025-04-10"), 28) == 2  # April and May after March
    assert months_to_cover(pd.Timestamp("2025-03-31"), 14) == 1


def test_a_series_without_a_complete_month_stays_daily_and_day_series_are_passed_through_untouched():
    rows = pd.concat([daily_rows(1, "2025-03-02", [1.0] * 30), daily_rows(2, "2025-01-01", [1.0] * 90)])
    rows = pd.concat([rows, daily_rows(3, "2025-01-01", [5.0] * 90)], ignore_index=True)
    daily, months = split_buckets(rows, {1, 2}, pd.Timestamp("2025-03-31"))
    assert set(daily["series_id"]) == {1, 3}
    pd.testing.assert_frame_equal(daily, rows[rows["series_id"] != 2])
    assert months["series_id"].tolist() == [2, 2, 2] and months["qty"].tolist() == [31.0, 28.0, 31.0]


def test_a_month_forecast_is_spread_evenly_over_the_horizon_days_and_names_the_monthly_model():
    monthly = pd.DataFrame(
        {
            "series_id": [7, 7],
            "date": pd.to_datetime(["2025-04-01", "2025-05-01"]),
            "p50": [30.0, 62.0],
            "p90": [60.0, 93.0],
            "model": [models.TSB, models.TSB],
        }
    )
    daily = spread_over_days(monthly, pd.Timestamp("2025-04-27"), 5)
    assert daily["date"].dt.strftime("%m-%d").tolist() == ["04-28", "04-29", "04-30", "05-01", "05-02"]
    assert daily["p50"].tolist() == [1.0, 1.0, 1.0, 2.0, 2.0]
    assert daily["p90"].tolist() == [2.0, 2.0, 2.0, 3.0, 3.0]
    assert set(daily["model"]) == {"tsb (monthly)"} and list(daily.columns) == list(monthly.columns)
