"""The warehouse idioms writers share: keeping, per key, the row scored with the most actuals."""

from datetime import date

import duckdb

from orchestration.runtime.warehouse_tables import keep_most_actuals

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
