import pandas as pd
import pytest

from forecasts.forecasting.levels import LOCATION, PARTNER, aggregate_history, location_shares, split_to_locations


def history() -> pd.DataFrame:
    days = pd.date_range("2025-01-01", periods=60)
    rows = []
    for location, rate in (("L1", 3.0), ("L2", 1.0)):
        for day in days:
            rows.append(
                {
                    "partner_id": "p",
                    "location_id": location,
                    "product_id": "A",
                    "date": day,
                    "qty": rate,
                    "censored": location == "L2" and day.day == 5,
                }
            )
    return pd.DataFrame(rows)


def test_location_level_keeps_one_series_per_shelf():
    series = aggregate_history(history(), LOCATION)
    assert sorted(series["series_id"].unique()) == ["p|L1|A", "p|L2|A"]


def test_partner_level_sums_locations_and_censors_only_when_all_are_out():
    frame = history()
    frame.loc[(frame["location_id"] == "L1") & (frame["date"].dt.day == 5), "censored"] = True
    series = aggregate_history(frame, PARTNER)
    assert series["series_id"].unique().tolist() == ["p|A"]
    assert (series["qty"] == 4.0).all()
    censored_days = series.loc[series["censored"], "date"].dt.day.unique().tolist()
    assert censored_days == [5]  # both stores out on the 5th of each month, only then


def test_shares_follow_recent_sales_and_sum_to_one():
    shares = location_shares(history()).set_index("location_id")["share"]
    assert shares.to_dict() == pytest.approx({"L1": 0.75, "L2": 0.25})


def test_no_recent_sales_shares_equally():
    quiet = history().assign(qty=0.0)
    assert location_shares(quiet)["share"].tolist() == pytest.approx([0.5, 0.5])


def test_split_conserves_the_aggregate_forecast():
    forecast = pd.DataFrame(
        {
            "series_id": ["p|A"] * 2,
            "date": pd.date_range("2025-03-02", periods=2),
            "p50": [8.0, 4.0],
            "p90": [12.0, 6.0],
            "model": ["prophet"] * 2,
        }
    )
    split = split_to_locations(forecast, history(), PARTNER)
    assert sorted(split["series_id"].unique()) == ["p|L1|A", "p|L2|A"]
    assert split.groupby("date")["p50"].sum().tolist() == pytest.approx([8.0, 4.0])
    assert split.loc[split["series_id"] == "p|L1|A", "p90"].tolist() == pytest.approx([9.0, 4.5])
    assert set(split["model"]) == {"prophet@partner"}
    assert list(split.columns) == list(forecast.columns)


def test_unknown_level_is_refused():
    with pytest.raises(ValueError, match="forecast level"):
        aggregate_history(history(), "region")
