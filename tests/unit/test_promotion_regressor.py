"""The nightly forecast passes the promotion regressor to the series the partners' calendars touch, and to no other."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from forecasts.forecasting.promotion_regressor import PROMOTION, chunk_promotions, with_promotions
from forecasts.forecasting.warehouse_forecast import forecast_warehouse

AS_OF = date(2026, 3, 31)
DAYS = 150
HORIZON = 14
# Promotion weeks every five weeks, the last one planned inside the horizon.
PROMOTION_STARTS = [AS_OF - timedelta(days=offset) for offset in (140, 105, 70, 35)] + [AS_OF + timedelta(days=5)]


def promotion_days() -> list[date]:
    return [start + timedelta(days=day) for start in PROMOTION_STARTS for day in range(7)]


def warehouse_rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Product A sells three times as much on promotion days (which the sales flag only at store S-1); B has none."""
    rng = np.random.default_rng(3)
    on_promotion = set(promotion_days())
    sales = []
    for location in ("S-1", "S-2"):
        for product in ("A", "B"):
            for offset in range(DAYS):
                day = AS_OF - timedelta(days=DAYS - 1 - offset)
                promoted = product == "A" and day in on_promotion
                units = float(rng.poisson(30 if promoted else 10))
                flag = promoted and location == "S-1"
                sales.append(("p1", location, product, day, units, False, flag))
    columns = ["partner_id", "location_id", "product_id", "sales_date", "units_sold", "is_stockout", "promo_flag"]
    calendar = [("p1", location, "A", day) for location in ("S-1", "S-2") for day in sorted(on_promotion)]
    promotions = pd.DataFrame(calendar, columns=["partner_id", "location_id", "product_id", "promo_date"])
    promotions["known_on"] = AS_OF
    return pd.DataFrame(sales, columns=columns), promotions


@pytest.fixture()
def conn(tmp_path):
    connection = duckdb.connect(str(tmp_path / "w.duckdb"))
    sales, promotions = warehouse_rows()
    connection.execute("create schema marts")
    for name, frame in (("fct_sales_daily", sales), ("fct_promotion_days", promotions)):
        connection.register("rows", frame)
        connection.execute(f"create table marts.{name} as select * from rows")
        connection.unregister("rows")
    connection.execute("create table marts.dim_partner as select 'p1' as partner_id, 'DE' as country")
    yield connection
    connection.close()


def night(conn, level: str, promotions: bool) -> pd.DataFrame:
    forecast_warehouse(
        conn,
        partners=["p1"],
        as_of_date=AS_OF,
        history_days=DAYS,
        horizon=HORIZON,
        level=level,
        run_id="test",
        promotions=promotions,
    )
    return conn.execute(
        """select location_id, product_id, forecast_date, p50, model from forecasts.forecast_history
           order by all"""
    ).df()


@pytest.mark.parametrize("level", ["location", "partner"])
def test_planned_promotion_days_lift_the_forecast_and_other_series_are_unchanged(conn, level):
    without = night(conn, level, promotions=False)
    with_regressor = night(conn, level, promotions=True)

    untouched = with_regressor["product_id"] == "B"
    pd.testing.assert_frame_equal(with_regressor[untouched], without[untouched])
    planned = {pd.Timestamp(day) for day in promotion_days() if day > AS_OF}

    def uplift(forecast: pd.DataFrame) -> float:
        a = forecast[forecast["product_id"] == "A"]
        on = a["forecast_date"].isin(planned)
        return float(a.loc[on, "p50"].mean() / a.loc[~on, "p50"].mean())

    assert uplift(with_regressor) > 2.0
    assert uplift(without) < 1.3


def test_at_the_partner_level_a_day_is_on_promotion_when_any_location_is():
    day = pd.Timestamp("2026-03-01")
    rows = pd.DataFrame(
        {
            "series_id": [1, 1, 1, 1],
            "location_series": [10, 11, 10, 11],
            "date": [day, day, day + pd.Timedelta(days=1)] * 1 + [day + pd.Timedelta(days=1)],
            "qty": 1.0,
        }
    )
    engine = pd.DataFrame({"series_id": [1, 1], "date": [day, day + pd.Timedelta(days=1)], "qty": [2.0, 2.0]})
    history = pd.DataFrame({"location_series": [11], "date": [day]})
    future = pd.DataFrame(
        {"series_id": [1, 1], "location_series": [10, 11], "date": [day, day], "promotion": [0.0, 1.0]}
    )

    flagged, planned = with_promotions(engine, rows, history, future)

    assert flagged["promotion"].tolist() == [1.0, 0.0]
    assert planned["promotion"].tolist() == [1.0]
    untouched, none = with_promotions(engine, rows, history, future.iloc[:0])
    assert none is None and untouched is engine


def test_a_night_reads_only_the_calendar_it_knew_and_skips_the_regressor_on_another_nights(conn):
    with_regressor = night(conn, "location", promotions=True)
    without = night(conn, "location", promotions=False)
    conn.execute("update marts.fct_promotion_days set known_on = known_on - interval 1 day")

    result = forecast_warehouse(
        conn, partners=["p1"], as_of_date=AS_OF, history_days=DAYS, horizon=HORIZON, level="location", run_id="t"
    )
    stale = conn.execute(
        "select location_id, product_id, forecast_date, p50, model from forecasts.forecast_history order by all"
    ).df()

    assert result.promotions_skipped == (
        "forecast without the promotion regressor: marts.fct_promotion_days holds the calendars as known on "
        "2026-03-30, not on 2026-03-31"
    )
    pd.testing.assert_frame_equal(stale, without)
    assert not stale.equals(with_regressor)
    # Rows of another night are never read, whoever calls.
    conn.execute(f"create temp table keys as {SERIES_KEYS}")
    history, future = chunk_promotions(conn, "keys", 1, 1, AS_OF - timedelta(days=DAYS - 1), AS_OF, HORIZON)
    assert history.empty and future.empty


SERIES_KEYS = """select partner_id, location_id, product_id, 1 as series_number, 1 as engine_series_number
                 from (values ('p1', 'S-2', 'A')) t(partner_id, location_id, product_id)"""


def test_at_the_partner_level_a_store_only_promotion_is_planned_when_the_chain_learned_one():
    conn = duckdb.connect()
    conn.execute("create schema marts")
    sales = [
        ("p1", location, "A", AS_OF - timedelta(days=offset), location == "S-1" and offset in (30, 31))
        for location in ("S-1", "S-2")
        for offset in range(60)
    ]
    columns = ["partner_id", "location_id", "product_id", "sales_date", "promo_flag"]
    conn.register("sales", pd.DataFrame(sales, columns=columns))
    conn.execute("create table marts.fct_sales_daily as select * from sales")
    # Past promotion days at S-1 only; a promotion planned at S-2 alone next week.
    days = [("p1", "S-1", "A", AS_OF - timedelta(days=offset)) for offset in (30, 31)]
    days += [("p1", "S-2", "A", AS_OF + timedelta(days=offset)) for offset in (3, 4, 5)]
    conn.register("calendar", pd.DataFrame(days, columns=[*columns[:3], "promo_date"]))
    conn.execute(f"create table marts.fct_promotion_days as select *, date '{AS_OF}' as known_on from calendar")
    conn.execute(
        """create temp table keys as select distinct partner_id, location_id, product_id,
           dense_rank() over (order by location_id) as series_number, 1 as engine_series_number
           from marts.fct_sales_daily"""
    )

    history, future = chunk_promotions(conn, "keys", 1, 1, AS_OF - timedelta(days=59), AS_OF, HORIZON)
    rows = pd.DataFrame(
        [(1, number, pd.Timestamp(AS_OF - timedelta(days=offset)), 1.0) for number in (1, 2) for offset in range(60)],
        columns=["series_id", "location_series", "date", "qty"],
    )
    engine = rows.groupby(["series_id", "date"], as_index=False)["qty"].sum()
    flagged, planned = with_promotions(engine, rows, history, future)

    assert sorted(set(future["location_series"])) == [1, 2]
    assert flagged["promotion"].sum() == 2.0
    on = planned.loc[planned["promotion"] > 0, "date"].dt.date.tolist()
    assert on == [AS_OF + timedelta(days=offset) for offset in (3, 4, 5)]


def test_the_night_choice_backtests_the_promoted_series_with_the_promotion_regressor(conn, monkeypatch):
    from forecasts.forecasting import warehouse_forecast

    calls = []
    original = warehouse_forecast.choose_models

    def spy(chunk, future_chunk, horizon, freq, countries, regressors):
        calls.append((chunk, future_chunk, regressors))
        return original(chunk, future_chunk, horizon, freq, countries, regressors)

    monkeypatch.setattr(warehouse_forecast, "choose_models", spy)
    night(conn, "location", promotions=True)

    (chunk, future, regressors), *_ = calls
    assert regressors == [PROMOTION] and future is not None
    promoted = set(future["series_id"])
    assert len(promoted) == 2, "product A at both stores"
    on_promotion = chunk.loc[chunk[PROMOTION] == 1.0, "series_id"]
    assert set(on_promotion) == promoted and future[PROMOTION].sum() == 2 * 7
