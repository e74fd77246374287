"""The night's stored forecast takes the partner's own forecast in where it measured better, in place."""

from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

import forecasts.forecasting.partner_evidence as module
from forecasts.forecasting.partner_evidence import apply_partner_forecasts

NIGHT = date(2025, 3, 2)
OLD_HISTORY_DDL = """create table forecasts.forecast_history (
    as_of_date date, partner_id varchar, location_id varchar, product_id varchar, series_id varchar,
    forecast_date date, p50 double, p90 double, model varchar, demand_class varchar, adi double,
    cv2 double, run_id varchar, created_at timestamp)"""


def _history_rows(partner: str, nights: list[date], p50: float, location: str = "L1") -> list[tuple]:
    return [
        (night, partner, location, "A", f"{partner}|{location}|A", night + timedelta(days=ahead), p50, p50 + 6.0,
         "prophet")
        for night in nights
        for ahead in range(1, 8)
    ]  # fmt: skip


def _insert_history(conn, rows: list[tuple]) -> None:
    history = pd.DataFrame(
        rows,
        columns=["as_of_date", "partner_id", "location_id", "product_id", "series_id", "forecast_date", "p50",
                 "p90", "model"],
    )  # fmt: skip
    conn.register("history", history)
    conn.execute("insert into forecasts.forecast_history by name select * from history")
    conn.unregister("history")


@pytest.fixture()
def conn():
    """A warehouse made before the evidence columns: four weeks of our nightly forecasts (14 a day, 10 sold)."""
    conn = duckdb.connect()
    conn.execute("create schema forecasts; create schema marts; create schema intermediate")
    conn.execute(OLD_HISTORY_DDL)
    past = [NIGHT - timedelta(days=back) for back in range(1, 29)]
    rows = _history_rows("p1", past, 14.0) + _history_rows("p2", past, 14.0)
    rows += _history_rows("p1", [NIGHT], 14.0) + _history_rows("p2", [NIGHT], 14.0)
    _insert_history(conn, rows)
    sales = pd.DataFrame(
        [(p, "L1", "A", NIGHT - timedelta(days=back), 10.0, False) for p in ("p1", "p2") for back in range(40)],
        columns=["partner_id", "location_id", "product_id", "sales_date", "units_sold", "is_stockout"],
    )
    conn.register("sales", sales)
    conn.execute("create table marts.fct_sales_daily as select * from sales")
    # p1 forecasts 9 a day, weekly, sent on each week's first day; and, the day after the night, a wild forecast
    # the night must not see. p2 sends none.
    weeks = [NIGHT - timedelta(days=35) + timedelta(days=7 * week) for week in range(6)]
    partner = [("p1", "L1", "A", start, start, start + timedelta(days=6), 63.0) for start in weeks]
    partner.append(("p1", "L1", "A", NIGHT + timedelta(days=1), NIGHT + timedelta(days=1), NIGHT + timedelta(7), 7e3))
    frame = pd.DataFrame(
        partner,
        columns=["partner_id", "location_id", "product_id", "forecast_date", "target_period_start",
                 "target_period_end", "forecast_qty"],
    ).assign(known_on=lambda rows: rows["forecast_date"])  # fmt: skip
    conn.register("frame", frame)
    conn.execute("create table intermediate.int_partner_forecasts_resolved as select * from frame")
    yield conn
    conn.close()


def _night(conn) -> pd.DataFrame:
    return conn.execute(
        "select * from forecasts.forecast_history where as_of_date = ? order by partner_id, forecast_date", [NIGHT]
    ).df()


def test_the_better_partner_forecast_joins_the_night_and_ours_stays_identifiable(conn):
    sources = apply_partner_forecasts(conn, NIGHT)
    rows = _night(conn)
    p1, p2 = rows[rows["partner_id"] == "p1"], rows[rows["partner_id"] == "p2"]
    # The partner's last week started on 23 February: it covers the night's first six days (the seventh has none).
    covered = p1["partner_p50"].notna()
    assert covered.sum() == 6 and (p1.loc[covered, "partner_p50"] == 9.0).all()
    # Ours erred 4 a day, the partner 1: weights 0.2 / 0.8 make the past exact, so the night is combined.
    combined = p1[covered]
    assert (combined["forecast_source"] == "combined").all() and (combined["evidence_level"] == "series").all()
    assert combined["weight_ours"].round(12).eq(0.2).all()
    assert combined["p50"].round(9).eq(0.2 * 14 + 0.8 * 9).all()
    assert (combined["p90"] - combined["p50"]).round(9).eq(6.0).all()
    assert (p1[~covered]["p50"] == 14.0).all() and (p1[~covered]["forecast_source"] == "ours").all()
    assert (rows["stat_p50"] == 14.0).all() and (rows["stat_p90"] == 20.0).all()
    assert (p2["forecast_source"] == "ours").all() and (p2["p50"] == 14.0).all()
    assert sources == {"combined": 6, "ours": 8}
    # The past nights are left as they were.
    assert conn.execute("select count(*) from forecasts.forecast_history where stat_p50 is not null").fetchone() == (
        14,
    )


def test_running_it_again_gives_the_same_rows(conn):
    apply_partner_forecasts(conn, NIGHT)
    first = _night(conn)
    apply_partner_forecasts(conn, NIGHT)
    pd.testing.assert_frame_equal(first, _night(conn))


def test_without_partner_forecasts_the_night_is_ours_alone(conn):
    conn.execute("drop table intermediate.int_partner_forecasts_resolved")
    assert apply_partner_forecasts(conn, NIGHT) == {"ours": 14}
    rows = _night(conn)
    assert (rows["p50"] == rows["stat_p50"]).all() and rows["partner_p50"].isna().all()


@pytest.fixture()
def blocks_conn(conn):
    """Beside p1's L1 (10 sold a day): L2, L3 and L4 sell 12 a day, which the partner forecasts at 11. We forecast
    L2 at 16; L3 at 14 for five nights only (short of evidence, it borrows p1's pooled weights); L4 at 12 in the window
    but not tonight (its evidence still pools into p1's)."""
    past = [NIGHT - timedelta(days=back) for back in range(1, 29)]
    short = [NIGHT - timedelta(days=back) for back in range(0, 6)]
    rows = _history_rows("p1", [*past, NIGHT], 16.0, "L2") + _history_rows("p1", short, 14.0, "L3")
    _insert_history(conn, rows + _history_rows("p1", past, 12.0, "L4"))
    conn.execute(
        """insert into marts.fct_sales_daily
           select partner_id, location, product_id, sales_date, units_sold + 2, is_stockout
           from marts.fct_sales_daily, (values ('L2'), ('L3'), ('L4')) as l(location) where partner_id = 'p1'"""
    )
    conn.execute(
        """insert into intermediate.int_partner_forecasts_resolved
           by name select f.* replace (l.location as location_id, f.forecast_qty + 7 * 2 as forecast_qty)
           from intermediate.int_partner_forecasts_resolved as f, (values ('L2'), ('L3'), ('L4')) as l(location)
           where forecast_qty < 100"""
    )
    return conn


@pytest.mark.parametrize("block_series", [1, 3])
def test_blocks_of_series_give_the_rows_of_the_whole_night(blocks_conn, block_series):
    whole_sources = apply_partner_forecasts(blocks_conn, NIGHT, block_series=1000)
    whole = _night(blocks_conn).sort_values(["location_id", "forecast_date"], ignore_index=True)
    # The night holds every kind of series: its own evidence, the partner's pooled evidence, none.
    assert set(whole["evidence_level"]) == {"series", "partner", "none"}
    assert set(whole["forecast_source"]) >= {"combined", "ours"}
    blocks_sources = apply_partner_forecasts(blocks_conn, NIGHT, block_series=block_series)
    blocks = _night(blocks_conn).sort_values(["location_id", "forecast_date"], ignore_index=True)
    assert blocks_sources == whole_sources
    pd.testing.assert_frame_equal(blocks.drop(columns="created_at"), whole.drop(columns="created_at"), check_exact=True)


def test_a_failure_part_way_leaves_the_night_s_previous_rows(blocks_conn, monkeypatch):
    apply_partner_forecasts(blocks_conn, NIGHT, block_series=1000)
    blocks_conn.execute("update forecasts.forecast_history set stat_p50 = stat_p50 + 1 where as_of_date = ?", [NIGHT])
    before = _night(blocks_conn)
    calls = []

    def failing(conn, rows, as_of_date):
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        original(conn, rows, as_of_date)

    original = module._update
    monkeypatch.setattr(module, "_update", failing)
    with pytest.raises(RuntimeError):
        apply_partner_forecasts(blocks_conn, NIGHT, block_series=1)
    pd.testing.assert_frame_equal(_night(blocks_conn), before)


def test_progress_counts_every_block_of_both_passes(blocks_conn):
    calls = []
    apply_partner_forecasts(blocks_conn, NIGHT, block_series=1, progress=lambda *call: calls.append(call))
    series = blocks_conn.execute(module._SERIES_SQL, {"night": NIGHT, "window": module.EVIDENCE_WINDOW_DAYS}).df()
    blocks = len(series)
    assert blocks >= 4  # p1's L1 to L4: L4 has no row tonight, but its evidence is read in a block of its own
    assert calls == [("read", done, blocks) for done in range(1, blocks + 1)] + [
        ("written", done, blocks) for done in range(1, blocks + 1)
    ]
