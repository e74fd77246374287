"""The warehouse idioms writers share: keeping, per key, the row scored with the most actuals; blocks of keys; one
date's rows replaced a part at a time."""

from datetime import date

import duckdb
import pandas as pd
import pytest

from orchestration.runtime.warehouse_tables import (
    keep_most_actuals,
    key_blocks,
    numbered_blocks,
    replace_date_rows_in_parts,
)

SCORES = "select * from (values ('a', 1.0, $through), ('b', 2.0, $through)) as s(series, score, actuals_through)"


def _stored(conn) -> list[tuple]:
    return conn.execute("select series, score, actuals_through from scores order by series").fetchall()


def test_a_score_is_replaced_only_by_one_made_with_as_many_actuals_or_more():
    conn = duckdb.connect()
    late, early = date(2025, 7, 10), date(2025, 7, 3)
    assert keep_most_actuals(conn, "scores", SCORES, {"through": late}, ["series"], create=True) == 2
    conn.execute("delete from scores where series = 'b'")
    # A past night rescored: 'a' keeps the later score, 'b' (gone) is written from the past night.
    assert keep_most_actuals(conn, "scores", SCORES.replace("1.0", "9.0"), {"through": early}, ["series"]) == 1
    assert _stored(conn) == [("a", 1.0, late), ("b", 2.0, early)]
    # The same actuals again replace: a rerun of the night writes its rows anew.
    assert keep_most_actuals(conn, "scores", SCORES.replace("2.0", "5.0"), {"through": early}, ["series"]) == 1
    assert _stored(conn) == [("a", 1.0, late), ("b", 5.0, early)]


LOCATIONS = (
    "select * from (values ('p', 'a', 2), ('p', 'b', 5), ('p', 'c', 1), ('q', 'a', 1)) as k(partner, location, rows)"
)


@pytest.mark.parametrize(
    "block_rows, expected",
    [
        (3, [["pa", "pb"], ["pc", "qa"]]),  # a block closes once it holds 3 rows; a key is never split
        (1, [["pa"], ["pb"], ["pc"], ["qa"]]),
        (100, [["pa", "pb", "pc", "qa"]]),
    ],
)
def test_key_blocks_hold_whole_keys_in_order(block_rows, expected):
    blocks = list(key_blocks(duckdb.connect(), LOCATIONS, {}, block_rows=block_rows))
    assert [list(block["partner"] + block["location"]) for block in blocks] == expected
    assert all(list(block.columns) == ["partner", "location"] for block in blocks)


def test_rows_replaced_in_parts_are_all_written_or_none():
    conn = duckdb.connect()
    conn.execute("create table rows (day date, value integer)")
    day = date(2025, 6, 30)
    conn.execute("insert into rows values (?, 1), (?, 2)", [day, day])
    parts = (pd.DataFrame({"day": [day] * n, "value": range(10 * n, 11 * n)}) for n in (1, 2))
    assert replace_date_rows_in_parts(conn, "rows", "day", day, parts) == 3
    assert conn.execute("select value from rows order by value").fetchall() == [(10,), (20,), (21,)]

    def failing():
        yield pd.DataFrame({"day": [day], "value": [7]})
        raise RuntimeError("the second part failed")

    with pytest.raises(RuntimeError):
        replace_date_rows_in_parts(conn, "rows", "day", day, failing())
    assert conn.execute("select value from rows order by value").fetchall() == [(10,), (20,), (21,)]


def test_numbered_blocks_number_the_keys_in_order_and_drop_their_table_after():
    conn = duckdb.connect()
    conn.execute(
        "create table s as select 'p' as partner_id, 'l' || (4 - i) as location_id, 'x' as product_id "
        "from range(5) t(i)"
    )
    with numbered_blocks(
        conn, "blocks", "select * from s where location_id <> $skip", {"skip": "l9"}, block_size=2
    ) as n:
        rows = conn.execute("select location_id, block from blocks order by location_id").fetchall()
    assert n == 3 and rows == [("l0", 0), ("l1", 0), ("l2", 1), ("l3", 1), ("l4", 2)]
    assert not conn.execute("select count(*) from duckdb_tables() where table_name = 'blocks'").fetchone()[0]
    with numbered_blocks(conn, "blocks", "select * from s where false", {}, block_size=2) as n:
        assert n == 0
