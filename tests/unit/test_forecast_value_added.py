"""Forecast value added per partner and week: naive, ours, the partner's and the combination on the same days."""

from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from forecasts.forecasting.forecast_history import ensure_forecast_tables
from forecasts.forecasting.forecast_value_added import score_value_added

SUNDAY = date(2025, 6, 1)
MONDAY = SUNDAY + timedelta(days=1)


@pytest.fixture()
def conn():
    """One series: 10 sold every day, except Tuesday (a stock-out) and the Monday before (8 sold)."""
    conn = duckdb.connect()
    ensure_forecast_tables(conn)
    conn.execute("create schema marts")
    days = [SUNDAY - timedelta(days=6) + timedelta(days=i) for i in range(14)]
    sales = pd.DataFrame(
        {
            "partner_id": "p1",
            "location_id": "L1",
            "product_id": "A",
            "sales_date": days,
            "units_sold": [8.0 if d == MONDAY - timedelta(days=7) else 10.0 for d in days],
            "is_stockout": [d == MONDAY + timedelta(days=1) for d in days],
        }
    )
    conn.register("sales", sales)
    conn.execute("create table marts.fct_sales_daily as select * from sales")
    rows = []
    # The Sunday run: ours 12 a day, the partner 9, the plan's blend 10.5; the Saturday run must not count.
    for night, p50 in ((SUNDAY, 10.5), (SUNDAY - timedelta(days=1), 99.0)):
        for ahead in range(1, 8):
            rows.append((night, "p1", "L1", "A", night + timedelta(days=ahead), p50, p50 + 5, 12.0, 9.0))
    # Another series the partner did not forecast: not scored.
    rows += [(SUNDAY, "p1", "L2", "A", SUNDAY + timedelta(days=a), 50.0, 60.0, 50.0, None) for a in range(1, 8)]
    history = pd.DataFrame(
        rows,
        columns=["as_of_date", "partner_id", "location_id", "product_id", "forecast_date", "p50", "p90", "stat_p50",
                 "partner_p50"],
    )  # fmt: skip
    conn.register("history", history)
    conn.execute("insert into forecasts.forecast_history by name select * from history")
    yield conn
    conn.close()


def test_each_forecast_is_scored_on_the_weeks_uncensored_days(conn):
    assert score_value_added(conn, SUNDAY + timedelta(days=7)) == 1
    week = conn.execute("select * from forecasts.forecast_value_added").df().iloc[0]
    assert week["week_start"] == pd.Timestamp(MONDAY) and week["iso_week"] == "2025-W23"
    assert week["is_complete_week"] and week["series_days"] == 6 and week["actual_units"] == 60.0
    # Naive: the same weekday a week before (8 on Monday, 10 after): |8 − 10| once.
    assert week["naive_wape"] == pytest.approx(2 / 60) and week["naive_bias"] == pytest.approx(-2 / 60)
    assert week["statistical_wape"] == pytest.approx(12 / 60) and week["statistical_bias"] == pytest.approx(0.2)
    assert week["partner_wape"] == pytest.approx(6 / 60) and week["partner_bias"] == pytest.approx(-0.1)
    assert week["combined_wape"] == pytest.approx(3 / 60)
    assert week["value_added_partner"] == pytest.approx(2 / 60 - 6 / 60)
    assert week["value_added_combined"] == pytest.approx(6 / 60 - 3 / 60)


def test_days_whose_sales_have_not_arrived_are_not_scored(conn):
    score_value_added(conn, MONDAY + timedelta(days=2))
    week = conn.execute("select * from forecasts.forecast_value_added").df().iloc[0]
    assert not week["is_complete_week"] and week["series_days"] == 2


def test_a_rerun_of_an_earlier_night_keeps_the_weeks_scored_with_more_sales(conn):
    score_value_added(conn, SUNDAY + timedelta(days=7))
    later = conn.execute("select * from forecasts.forecast_value_added").df()
    score_value_added(conn, MONDAY + timedelta(days=2))
    pd.testing.assert_frame_equal(conn.execute("select * from forecasts.forecast_value_added").df(), later)
    score_value_added(conn, SUNDAY)
    assert len(conn.execute("select * from forecasts.forecast_value_added").df()) == 1
