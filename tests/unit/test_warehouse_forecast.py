"""The nightly forecast read chunk by chunk from DuckDB writes what the whole-frame path wrote, and a rerun or a
failure leaves the forecast history whole."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from forecasts.forecasting.engine import forecast_many
from forecasts.forecasting.forecast_history import SERIES_SEPARATOR, save_forecast, series_id_for
from forecasts.forecasting.levels import LOCATION, PARTNER, aggregate_history, split_to_locations
from forecasts.forecasting.model_choice import CHOICE_COLUMNS
from forecasts.forecasting.warehouse_forecast import forecast_warehouse

AS_OF = date(2026, 3, 31)
DAYS = 120
COMPARED = ["as_of_date", "series_id", "forecast_date", "partner_id", "location_id", "product_id"]


def sales_rows() -> pd.DataFrame:
    """Three partners (one held), locations whose ids are prefixes of others, smooth, sparse and short series."""
    rng = np.random.default_rng(5)
    rows = []
    for partner in ("p1", "p2", "p3"):
        for location in ("S-1", "S-1A", "S-2"):
            for product in ("A", "B", "C"):
                kind = rng.integers(3)
                first = DAYS - 30 if kind == 2 else 0
                for day in range(first, DAYS):
                    qty = rng.poisson(6) if kind == 0 else (rng.poisson(0.15) if kind == 1 else rng.poisson(3))
                    stockout = rng.random() < 0.03
                    rows.append(
                        (partner, location, product, AS_OF - timedelta(days=DAYS - 1 - day), 0 if stockout else qty)
                        + (stockout,)
                    )
    columns = ["partner_id", "location_id", "product_id", "sales_date", "units_sold", "is_stockout"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({"units_sold": float})


@pytest.fixture()
def warehouse(tmp_path):
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    conn.execute("create schema marts")
    conn.register("sales", sales_rows())
    conn.execute("create table marts.fct_sales_daily as select * from sales order by sales_date")
    conn.unregister("sales")
    conn.execute(
        "create table marts.dim_partner as select * from (values ('p1', 'DE'), ('p2', 'US'), ('p3', 'FR'))"
        " as t(partner_id, country)"
    )
    yield conn
    conn.close()


def whole_frame_forecast(conn, partners: list[str], level: str) -> pd.DataFrame:
    """The forecast as the nightly made it before it read in chunks: everything in one frame, ids per row."""
    history = conn.execute(
        """select partner_id, location_id, product_id, sales_date as date, units_sold as qty, is_stockout as censored
           from marts.fct_sales_daily where partner_id in (select unnest(?::varchar[]))
           order by partner_id, location_id, product_id, sales_date""",
        [partners],
    ).df()
    countries = dict(conn.execute("select partner_id, country from marts.dim_partner").fetchall())
    history["series_id"] = series_id_for(history)
    series = aggregate_history(history, level)
    series_countries = {sid: countries.get(sid.split(SERIES_SEPARATOR, 1)[0]) for sid in series["series_id"].unique()}
    forecast = forecast_many(series, horizon=14, countries=series_countries)
    return split_to_locations(forecast, history, level)


def night_in_chunks_of_four(conn, partners: list[str], level: str):
    return forecast_warehouse(
        conn,
        partners=partners,
        as_of_date=AS_OF,
        history_days=DAYS,
        horizon=14,
        level=level,
        run_id="after",
        chunk_series=4,
    )


def stored(conn) -> pd.DataFrame:
    return (
        conn.execute("select * exclude (run_id, created_at) from forecasts.forecast_history")
        .df()
        .sort_values(COMPARED)
        .reset_index(drop=True)
    )


@pytest.mark.parametrize("level", [LOCATION, PARTNER])
def test_chunks_write_exactly_what_the_whole_frame_wrote(warehouse, level):
    partners = ["p1", "p2"]
    save_forecast(warehouse, whole_frame_forecast(warehouse, partners, level), as_of_date=AS_OF, run_id="before")
    before = stored(warehouse)

    night = night_in_chunks_of_four(warehouse, partners, level)
    after = stored(warehouse)

    assert night.rows == len(after) == len(before) == 2 * 9 * 14
    assert night.chunks == -(-night.series // 4)
    assert night.series == (18 if level == LOCATION else 6)
    pd.testing.assert_frame_equal(after, before, check_exact=True)
    # Every series of a class the engine chooses for carries its class's evidence; short series carry none.
    chosen = after["demand_class"].isin(["smooth", "erratic", "intermittent", "lumpy"])
    assert chosen.any() and (~chosen).any()
    assert after.loc[chosen, "choice_reason"].str.contains("default kept").all()
    assert after.loc[~chosen, CHOICE_COLUMNS].isna().all().all()
    assert set(night.choices) == {"D"} and set(night.choices["D"]) == set(after.loc[chosen, "demand_class"])
    assert not after["series_id"].str.startswith("p3").any()
    assert night.top_series_id in set(after["series_id"])
    assert len(night.top_forecast) == 14 and len(night.top_history) > 0


def test_a_rerun_replaces_the_date_and_a_failed_run_keeps_the_previous_forecast(warehouse):
    arguments = dict(partners=["p1"], as_of_date=AS_OF, history_days=DAYS, horizon=7, level=LOCATION)
    forecast_warehouse(warehouse, run_id="first", chunk_series=2, **arguments)
    first = stored(warehouse)
    forecast_warehouse(warehouse, run_id="second", chunk_series=3, **arguments)
    assert warehouse.execute("select distinct run_id from forecasts.forecast_history").fetchall() == [("second",)]
    pd.testing.assert_frame_equal(stored(warehouse), first, check_exact=True)

    class FailsOnThirdChunk:
        workers, spill_dir, spill_rows, calls = 1, None, 0, 0

        def submit(self, function, *args):
            self.calls += 1
            if self.calls == 3:
                raise OSError("connection to the cluster lost")
            return _Done(function(*args))

    with pytest.raises(OSError, match="cluster lost"):
        forecast_warehouse(warehouse, run_id="third", chunk_series=2, executor=FailsOnThirdChunk(), **arguments)
    assert warehouse.execute("select distinct run_id from forecasts.forecast_history").fetchall() == [("second",)]
    pd.testing.assert_frame_equal(stored(warehouse), first, check_exact=True)


class _Done:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def test_a_night_without_plannable_partners_writes_no_rows_and_keeps_the_tables(warehouse):
    night = forecast_warehouse(
        warehouse, partners=[], as_of_date=AS_OF, history_days=DAYS, horizon=7, level=PARTNER, run_id="quiet"
    )
    assert (night.rows, night.series, night.chunks, night.top_series_id) == (0, 0, 0, None)
    assert warehouse.execute("select count(*) from forecasts.demand_forecast").fetchone() == (0,)


def test_series_an_agreement_buckets_by_month_get_their_month_spread_over_days_and_the_others_are_unchanged(
    warehouse,
):
    arguments = dict(partners=["p1"], as_of_date=AS_OF, history_days=DAYS, horizon=14, level=LOCATION)
    forecast_warehouse(warehouse, run_id="by day", chunk_series=4, **arguments)
    by_day = stored(warehouse)
    firsts = warehouse.execute(
        """select partner_id, location_id, product_id, min(sales_date) as first from marts.fct_sales_daily
           where partner_id = 'p1' group by all order by all"""
    ).df()
    full = firsts[firsts["first"] == firsts["first"].min()]
    short = firsts[firsts["first"] > pd.Timestamp("2026-03-01")]
    assert len(full) >= 2 and len(short) >= 1
    by_month = pd.concat([full.head(2), short.head(1)])
    policy = firsts.assign(forecast_bucket="day")
    policy.loc[by_month.index, "forecast_bucket"] = "month"
    warehouse.register("policy", policy.drop(columns="first"))
    warehouse.execute("create table marts.replenishment_policy as select * from policy")

    night = forecast_warehouse(warehouse, run_id="by month", chunk_series=4, **arguments)
    after = stored(warehouse)

    ids = {SERIES_SEPARATOR.join(key) for key in full.head(2)[["partner_id", "location_id", "product_id"]].values}
    monthly = after["series_id"].isin(ids)
    assert len(after) == len(by_day) == 9 * 14
    # The daily series' forecasts are unchanged; their classes' evidence counts fewer series (two went monthly).
    daily_after, daily_before = (frame[~monthly].drop(columns=CHOICE_COLUMNS) for frame in (after, by_day))
    pd.testing.assert_frame_equal(daily_after.reset_index(drop=True), daily_before.reset_index(drop=True))
    assert after.loc[monthly, "model"].str.endswith(" (monthly)").all()
    assert night.by_model.total() == 9 and sum(n for m, n in night.by_model.items() if "monthly" in m) == 2
    for series_id in ids:
        partner, location, product = series_id.split(SERIES_SEPARATOR)
        history = by_day_history(warehouse, partner, location, product)
        months = history.groupby(history["date"].dt.to_period("M")).agg(
            qty=("qty", "sum"), censored=("censored", "any")
        )
        months = months.loc["2026-01":"2026-03"]  # December is partial: the history starts on the 2nd
        expected = forecast_many(
            months.reset_index().assign(series_id=1, date=lambda m: m["date"].dt.to_timestamp()),
            horizon=1,
            freq="M",
            countries={1: "DE"},
        )
        rows = after[after["series_id"] == series_id]
        assert rows["forecast_date"].min() == pd.Timestamp("2026-04-01")
        np.testing.assert_allclose(rows["p50"], expected["p50"].iloc[0] / 30)
        np.testing.assert_allclose(rows["p90"], expected["p90"].iloc[0] / 30)
    # A series without one complete month of history is forecast by day whatever its agreement.
    short_id = SERIES_SEPARATOR.join(short.iloc[0][["partner_id", "location_id", "product_id"]])
    pd.testing.assert_frame_equal(
        after[after["series_id"] == short_id].reset_index(drop=True),
        by_day[by_day["series_id"] == short_id].reset_index(drop=True),
    )


def by_day_history(conn, partner: str, location: str, product: str) -> pd.DataFrame:
    return conn.execute(
        """select sales_date as date, units_sold as qty, is_stockout as censored from marts.fct_sales_daily
           where partner_id = ? and location_id = ? and product_id = ? order by sales_date""",
        [partner, location, product],
    ).df()


def test_at_the_partner_level_a_product_is_bucketed_by_month_when_one_of_its_locations_is(warehouse):
    policy = warehouse.execute(
        """select distinct partner_id, location_id, product_id,
                  case when location_id = 'S-2' and product_id = 'A' then 'month' else 'day' end as forecast_bucket
           from marts.fct_sales_daily"""
    ).df()
    warehouse.register("policy", policy)
    warehouse.execute("create table marts.replenishment_policy as select * from policy")
    forecast_warehouse(
        warehouse, partners=["p1"], as_of_date=AS_OF, history_days=DAYS, horizon=7, level=PARTNER, run_id="p"
    )
    after = stored(warehouse)
    monthly = after["model"].str.contains("(monthly)", regex=False)
    assert set(after.loc[monthly, "product_id"]) == {"A"}
    assert set(after.loc[monthly, "location_id"]) == {"S-1", "S-1A", "S-2"}, "split back to every location"
    assert after.loc[monthly, "model"].str.endswith(" (monthly)@partner").all()
    assert not after.loc[after["product_id"] != "A", "model"].str.contains("monthly").any()


def test_the_night_choice_reads_the_buckets_and_countries_of_its_sampled_series_only(warehouse, monkeypatch):
    from forecasts.forecasting import warehouse_forecast

    total = warehouse_forecast.number_series(warehouse, ["p1", "p2"], AS_OF - timedelta(days=DAYS - 1), AS_OF, LOCATION)
    monkeypatch.setattr(warehouse_forecast, "CHOICE_SAMPLE_SERIES", 3)
    read = []
    for name in ("_countries", "_monthly_series"):
        original = getattr(warehouse_forecast, name)
        monkeypatch.setattr(
            warehouse_forecast, name, lambda *args, original=original: read.append(original(*args)) or read[-1]
        )
    warehouse.execute("update night_forecast_series set monthly = true")

    warehouse_forecast.night_choices(
        warehouse, total, AS_OF - timedelta(days=DAYS - 1), AS_OF, LOCATION, pd.Timestamp(AS_OF), 14
    )

    assert total == 18 and len(read) == 2
    assert all(0 < len(values) <= 3 for values in read)


@pytest.fixture()
def weekly_buyers(tmp_path):
    """Sixteen intermittent series that buy every seventh day, the last on the night itself, about four times as
    much after their first forty days: smoothed from the low start, ADIDA's weekly buckets forecast less than TSB
    and IMAPA on the mostly empty days and win the backtest."""
    rng = np.random.default_rng(7)
    rows = []
    for location in ("L-1", "L-2"):
        for product in (f"P{number:02d}" for number in range(8)):
            for day in range(DAYS):
                qty = (1 if day < 40 else 4) + rng.poisson(1) if (DAYS - 1 - day) % 7 == 0 else 0
                rows.append(("p1", location, product, AS_OF - timedelta(days=DAYS - 1 - day), float(qty), False))
    columns = ["partner_id", "location_id", "product_id", "sales_date", "units_sold", "is_stockout"]
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    conn.execute("create schema marts")
    conn.register("sales", pd.DataFrame(rows, columns=columns))
    conn.execute("create table marts.fct_sales_daily as select * from sales order by sales_date")
    conn.unregister("sales")
    conn.execute("create table marts.dim_partner as select 'p1' as partner_id, 'DE' as country")
    yield conn
    conn.close()


def test_the_nightly_switches_a_class_adida_wins_and_chunks_write_what_the_whole_frame_wrote(weekly_buyers):
    save_forecast(weekly_buyers, whole_frame_forecast(weekly_buyers, ["p1"], LOCATION), as_of_date=AS_OF, run_id="b")
    before = stored(weekly_buyers)

    night = night_in_chunks_of_four(weekly_buyers, ["p1"], LOCATION)
    after = stored(weekly_buyers)

    choice = night.choices["D"]["intermittent"]
    assert choice.model == "adida" and choice.switched and choice.series == 16
    assert set(after["demand_class"]) == {"intermittent"} and set(after["model"]) == {"adida"}
    assert night.chunks == 4 and len(after) == 16 * 14
    pd.testing.assert_frame_equal(after, before, check_exact=True)
