from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from forecasts.forecasting.accuracy import _COLUMNS, ACCURACY_TABLE, score_forecast_history

HISTORY_START = date(2024, 1, 1)
RUN_DATE = date(2024, 2, 29)
WINDOW = [RUN_DATE + timedelta(days=k) for k in range(1, 8)]  # 1 to 7 March
WINDOW_SALES = {"A": [10, 12, 14, 99, 10, 12, 14], "B": [4, 6, 5, 5, 5, 5, 5]}
STOCKOUT = date(2024, 3, 4)


@pytest.fixture
def conn():
    """Sales for products A and B at one location, and one forecast run on 29 February.

    Before March, sales alternate week by week between 10 and 14 units, so every day differs from the same
    weekday a week earlier by exactly 4: the MASE scale is 4. On 4 March product A was out of stock.
    """
    connection = duckdb.connect()
    rows = []
    for product in ("A", "B"):
        day = HISTORY_START
        while day <= date(2024, 3, 31):
            index = (day - HISTORY_START).days
            units = 10 + 4 * ((index // 7) % 2)
            if day in WINDOW:
                units = WINDOW_SALES[product][WINDOW.index(day)]
            rows.append(("P1", "L1", product, day, float(units), product == "A" and day == STOCKOUT))
            day += timedelta(days=1)
    sales = pd.DataFrame(
        rows, columns=["partner_id", "location_id", "product_id", "sales_date", "units_sold", "is_stockout"]
    )
    connection.execute("create schema marts")
    connection.register("sales_frame", sales)
    connection.execute("create table marts.fct_sales_daily as select * from sales_frame")

    forecasts = []
    for as_of, days in ((RUN_DATE, WINDOW), (date(2024, 3, 5), [date(2024, 3, 6), date(2024, 3, 7)])):
        for product, p50, p90 in (("A", 12.0, 15.0), ("B", 5.0, 6.0)):
            for day in days:
                forecasts.append((as_of, "P1", "L1", product, f"P1|L1|{product}", day, p50, p90, "prophet", "smooth"))
    history = pd.DataFrame(
        forecasts,
        columns=[
            "as_of_date",
            "partner_id",
            "location_id",
            "product_id",
            "series_id",
            "forecast_date",
            "p50",
            "p90",
            "model",
            "demand_class",
        ],
    )
    connection.execute("create schema forecasts")
    connection.register("history_frame", history)
    connection.execute("create table forecasts.forecast_history as select * from history_frame")
    yield connection
    connection.close()


def accuracy(conn) -> pd.DataFrame:
    return conn.execute(f"select * from {ACCURACY_TABLE} order by as_of_date, series_id").df()


def test_scores_by_hand(conn):
    assert score_forecast_history(conn, date(2024, 3, 5)) == 2
    row = accuracy(conn).set_index("series_id").loc["P1|L1|A"]
    # Due: 1-5 March; 4 March was a stock-out, so 10, 12, 14 and 10 are scored against a p50 of 12.
    assert (row["forecast_days"], row["periods_due"], row["periods_scored"], row["periods_censored"]) == (7, 5, 4, 1)
    assert not row["horizon_complete"]
    assert row["actual_units"] == 46 and row["abs_error"] == 6 and row["error"] == 2
    assert row["wape"] == pytest.approx(6 / 46)
    assert row["bias"] == pytest.approx(2 / 46)
    assert row["mase_scale"] == pytest.approx(4.0)
    assert row["mase"] == pytest.approx((6 / 4) / 4)
    # p90 = 15 is above every actual: each day costs 0.1 x (15 - y).
    assert row["pinball_p90"] == pytest.approx(0.1 * (5 + 3 + 1 + 5) / 4)
    assert row["p90_coverage"] == 1.0
    assert row["actuals_through"] == pd.Timestamp("2024-03-05")


def test_a_run_made_on_or_after_the_scoring_date_is_not_scored(conn):
    score_forecast_history(conn, date(2024, 3, 5))
    assert set(accuracy(conn)["as_of_date"]) == {pd.Timestamp(RUN_DATE)}


def test_rescoring_is_idempotent_and_a_backfill_keeps_newer_scores(conn):
    score_forecast_history(conn, date(2024, 3, 10))
    first = accuracy(conn)
    assert score_forecast_history(conn, date(2024, 3, 10)) == len(first) == 4
    pd.testing.assert_frame_equal(accuracy(conn), first)
    assert first.loc[first["as_of_date"] == pd.Timestamp(RUN_DATE), "horizon_complete"].all()

    assert score_forecast_history(conn, date(2024, 3, 5)) == 0
    pd.testing.assert_frame_equal(accuracy(conn), first)


def test_partner_and_model_views_pool_the_sums(conn):
    score_forecast_history(conn, date(2024, 3, 7))
    by_partner = conn.execute(
        "select * from forecasts.forecast_accuracy_by_partner where as_of_date = ?", [RUN_DATE]
    ).df()
    # A: |errors| 2+0+2+2+0+2 = 8 on 72 units (the stock-out day left out); B: 1+1+0+0+0+0+0 = 2 on 35 units.
    assert by_partner["wape"].iloc[0] == pytest.approx((8 + 2) / (72 + 35))
    assert by_partner["series"].iloc[0] == 2
    by_model = conn.execute("select model, wape from forecasts.forecast_accuracy_by_model").fetchall()
    assert {model for model, _ in by_model} == {"prophet"}


def test_without_any_forecast_history_nothing_is_written():
    connection = duckdb.connect()
    assert score_forecast_history(connection, date(2024, 1, 1)) == 0
    assert connection.execute(f"select count(*) from {ACCURACY_TABLE}").fetchone()[0] == 0


def test_blocks_of_one_series_score_the_rows_of_one_block(conn):
    assert score_forecast_history(conn, date(2024, 3, 10), block_series=1000) == 4
    whole = accuracy(conn)
    conn.execute(f"delete from {ACCURACY_TABLE}")
    calls = []
    assert score_forecast_history(conn, date(2024, 3, 10), block_series=1, progress=lambda *c: calls.append(c)) == 4
    pd.testing.assert_frame_equal(accuracy(conn), whole, check_exact=True)
    assert calls == [(1, 2), (2, 2)]  # products A and B, a block each
    # The blocks' table is gone with the step: the next night numbers its own series.
    assert conn.execute("select count(*) from duckdb_tables() where table_name = 'accuracy_series'").fetchone() == (0,)


def test_a_failure_in_a_later_block_leaves_the_previous_scores(conn):
    # Product B's scores as of 10 March cannot be stored: its block fails after A's block was written anew.
    conn.execute(
        f"""create table {ACCURACY_TABLE} ({_COLUMNS},
            check (product_id <> 'B' or actuals_through < date '2024-03-10'))"""
    )
    score_forecast_history(conn, date(2024, 3, 5))
    before = accuracy(conn)
    with pytest.raises(duckdb.ConstraintException):
        score_forecast_history(conn, date(2024, 3, 10), block_series=1)
    pd.testing.assert_frame_equal(accuracy(conn), before)
    assert score_forecast_history(conn, date(2024, 3, 9), block_series=1) == 4
