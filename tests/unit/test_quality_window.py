"""Which rows a night's GX suites judge: the recent ones, of the files the night could have had."""

import re
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from assets.feeds.loading.raw_schema import ensure_raw_schema
from assets.quality import SUITE_CHECKS, _recent_rows, _rows_by_partner
from orchestration.runtime.partitions import KNOWLEDGE_DAYS_AFTER_BUSINESS_DATE, known_before

RAW_SALES = next(check for check in SUITE_CHECKS if check.name == "gx_raw_sales")


@pytest.fixture
def conn():
    connection = duckdb.connect()
    ensure_raw_schema(connection)
    files = [
        ("on-time", "2025-06-29 06:10:00"),  # the night's own delivery
        ("next-day", "2025-06-30 06:05:00"),  # the next business date's file: after the night's cut
        ("week-later", "2025-07-05 06:00:00"),  # arrived after the night: a replay must not judge it
    ]
    for file_id, received in files:
        connection.execute(
            "insert into raw.feed_files (source_file_id, partner_id, path, received_at, status) "
            "values (?, 'p1', ?, ?, 'loaded')",
            [file_id, f"p1/{file_id}.csv", datetime.fromisoformat(received)],
        )
        day = {"on-time": "2025-06-28", "next-day": "2025-06-29", "week-later": "2025-07-04"}[file_id]
        connection.execute(
            "insert into raw.sales (partner_id, location_id, product_ref, period_start, period_end, units_sold, "
            "source_file_id, source_line) values ('p1', 'S1', 'A', ?, ?, 3, ?, 2)",
            [date.fromisoformat(day), date.fromisoformat(day), file_id],
        )
    yield connection
    connection.close()


def test_the_cut_is_midnight_at_the_end_of_the_day_after_the_business_date():
    assert known_before(date(2025, 6, 28)) == datetime(2025, 6, 30)


def test_dbt_takes_the_same_knowledge_cut_as_the_nightly():
    """known_before (every feed's cut) and known_on (a partner forecast's first night) in dbt read one macro."""
    macros = (Path(__file__).parents[2] / "dbt_project/macros/known_before.sql").read_text()
    days = re.search(r"macro knowledge_days_after_business_date\(\) -%}\s*(\d+)\s*{%-", macros)
    assert days is not None and int(days.group(1)) == KNOWLEDGE_DAYS_AFTER_BUSINESS_DATE
    assert macros.count("interval {{ knowledge_days_after_business_date() }} day") == 2
    assert not re.search(r"interval \d+ day", macros), "no second copy of the cut"


def test_a_replayed_night_judges_only_the_files_received_before_its_cut(conn):
    rows = _recent_rows(conn, RAW_SALES, date(2025, 6, 28))
    assert sorted(rows["source_file_id"]) == ["on-time"]


def test_later_nights_see_every_file_received_before_their_cut(conn):
    rows = _recent_rows(conn, RAW_SALES, date(2025, 6, 29))
    assert sorted(rows["source_file_id"]) == ["next-day", "on-time"]
    rows = _recent_rows(conn, RAW_SALES, date(2025, 7, 4))
    assert sorted(rows["source_file_id"]) == ["next-day", "on-time", "week-later"]


def test_mart_checks_read_their_recent_rows_without_a_file_filter():
    connection = duckdb.connect()
    connection.execute("create schema marts")
    connection.execute(
        "create table marts.fct_sales_daily as select date '2025-06-28' as sales_date, 'p1' as partner_id"
    )
    check = next(check for check in SUITE_CHECKS if check.table == "marts.fct_sales_daily")
    assert len(_recent_rows(connection, check, date(2025, 6, 28))) == 1
    connection.close()


def test_rows_come_in_the_same_order_however_they_were_loaded():
    rows = [
        ("p1", f"S{store}", "A", date(2025, 6, 28), date(2025, 6, 28), float(store), "f", store) for store in range(50)
    ]
    frames = []
    for ordered in (rows, rows[::-1]):
        connection = duckdb.connect()
        ensure_raw_schema(connection)
        connection.execute(
            "insert into raw.feed_files (source_file_id, partner_id, path, received_at, status) "
            "values ('f', 'p1', 'p1/f.csv', timestamp '2025-06-29 06:00:00', 'loaded')"
        )
        connection.executemany(
            "insert into raw.sales (partner_id, location_id, product_ref, period_start, period_end, units_sold, "
            "source_file_id, source_line) values (?, ?, ?, ?, ?, ?, ?, ?)",
            ordered,
        )
        frames.append(_recent_rows(connection, RAW_SALES, date(2025, 6, 28)))
        connection.close()
    assert frames[0]["location_id"].tolist() == frames[1]["location_id"].tolist()


def test_the_volume_rule_judges_every_partner_that_ever_sent_sales_even_on_a_quiet_night():
    from assets.quality import SUITE_CHECKS as checks

    volume = next(check for check in checks if check.name == "gx_feed_volume")
    others = [check for check in checks if check is not volume]
    assert not volume.fails_run_when_all_held
    assert all(check.fails_run_when_all_held for check in others)
    connection = duckdb.connect()
    ensure_raw_schema(connection)
    connection.execute(
        "insert into raw.feed_files (source_file_id, partner_id, path, received_at, status) values "
        "('old', 'p1', 'p1/old.csv', timestamp '2025-03-01 06:00:00', 'loaded'), "
        "('late', 'p2', 'p2/late.csv', timestamp '2025-07-09 06:00:00', 'loaded')"
    )
    connection.execute(
        "insert into raw.sales (partner_id, location_id, product_ref, period_start, period_end, units_sold, "
        "source_file_id, source_line) values ('p1', 'S1', 'A', date '2025-02-28', date '2025-02-28', 3, 'old', 2), "
        "('p2', 'S1', 'A', date '2025-07-08', date '2025-07-08', 3, 'late', 2)"
    )
    # Nothing in the window for anyone: p1 is still judged (and held for its silence); p2's file came after the cut.
    rows = _recent_rows(connection, volume, date(2025, 6, 28))
    assert rows[["partner_id", "days_with_rows", "row_count"]].values.tolist() == [["p1", 0, 0]]
    connection.close()


def test_each_partner_s_rows_are_read_in_turn_and_add_up_to_the_night_s(conn):
    conn.execute(
        "insert into raw.feed_files (source_file_id, partner_id, path, received_at, status) "
        "values ('p2-file', 'p2', 'p2/f.csv', timestamp '2025-06-29 07:00:00', 'loaded')"
    )
    conn.execute(
        "insert into raw.sales (partner_id, location_id, product_ref, period_start, period_end, units_sold, "
        "source_file_id, source_line) values ('p2', 'S9', 'B', date '2025-06-27', date '2025-06-27', 1, 'p2-file', 2), "
        "('p2', 'S1', 'B', date '2025-06-28', date '2025-06-28', 2, 'p2-file', 3)"
    )
    night = date(2025, 6, 28)
    parts = _rows_by_partner(conn, RAW_SALES, night)
    partner, first = next(parts)  # a generator: the second partner is read only when the first is done with
    assert partner == "p1" and sorted(first["source_file_id"]) == ["on-time"]
    rest = list(parts)
    assert [partner for partner, _ in rest] == ["p2"]
    whole = _recent_rows(conn, RAW_SALES, night)
    pd.testing.assert_frame_equal(pd.concat([first, *(rows for _, rows in rest)], ignore_index=True), whole)
