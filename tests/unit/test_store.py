from datetime import date

import duckdb
import pandas as pd
import pytest

from forecasts.forecasting.forecast_history import save_forecast, series_id_for
from forecasts.replenishment.plan_history import plan_version, previous_cadence, save_plan, save_planner_exceptions


@pytest.fixture
def conn():
    with duckdb.connect() as connection:
        yield connection


def plan_frame(plan_date: date, ship: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "partner_id": ["p1", "p1"],
            "location_id": ["L1", "L2"],
            "product_id": ["A", "A"],
            "plan_date": [plan_date] * 2,
            "ship_qty": ship,
            "reason_code": ["below_reorder_point", "no_action"],
            "case_pack": [6, 6],
        }
    )


def test_series_id_joins_partner_location_and_product():
    frame = pd.DataFrame({"partner_id": ["p"], "location_id": ["L-1"], "product_id": ["X"]})
    assert series_id_for(frame).tolist() == ["p|L-1|X"]


def test_forecast_rerun_for_a_date_replaces_it_and_the_view_shows_the_newest(conn):
    forecast = pd.DataFrame(
        {
            "series_id": ["p|L|A"] * 2,
            "date": pd.to_datetime(["2025-07-01", "2025-07-02"]),
            "p50": [1.0, 2.0],
            "p90": [2.0, 3.0],
            "model": ["prophet"] * 2,
            "demand_class": ["smooth"] * 2,
            "adi": [1.0] * 2,
            "cv2": [0.1] * 2,
        }
    )
    save_forecast(conn, forecast, as_of_date=date(2025, 6, 30), run_id="r1")
    save_forecast(conn, forecast, as_of_date=date(2025, 6, 30), run_id="r2")
    save_forecast(conn, forecast, as_of_date=date(2025, 6, 29), run_id="r3")
    assert conn.execute("select count(*) from forecasts.forecast_history").fetchone()[0] == 4
    view = conn.execute(
        "select as_of_date, partner_id, location_id, product_id, run_id from forecasts.demand_forecast"
    ).fetchall()
    assert {row[0] for row in view} == {date(2025, 6, 30)}
    assert {row[1:] for row in view} == {("p", "L", "A", "r2")}


def test_a_forecast_history_made_before_the_model_choice_gains_its_evidence_columns(conn):
    conn.execute("create schema forecasts")
    conn.execute(
        """create table forecasts.forecast_history (
               as_of_date date, partner_id varchar, location_id varchar, product_id varchar, series_id varchar,
               forecast_date date, p50 double, p90 double, model varchar, demand_class varchar, adi double,
               cv2 double, run_id varchar, created_at timestamp)"""
    )
    conn.execute("insert into forecasts.forecast_history (as_of_date, series_id) values ('2025-06-29', 'p|L|A')")
    forecast = pd.DataFrame(
        {
            "series_id": ["p|L|A"],
            "date": pd.to_datetime(["2025-07-01"]),
            "p50": [1.0],
            "p90": [2.0],
            "model": ["adida"],
            "demand_class": ["intermittent"],
            "adi": [2.0],
            "cv2": [0.3],
            "choice_reason": ["adida better"],
            "choice_scores": ['{"adida": 0.8, "tsb": 0.9}'],
            "choice_origins": pd.array([2], dtype="Int64"),
            "choice_series": pd.array([40], dtype="Int64"),
        }
    )
    save_forecast(conn, forecast, as_of_date=date(2025, 6, 30), run_id="r1")
    rows = conn.execute(
        """select as_of_date, choice_reason, choice_scores, choice_origins, choice_series
           from forecasts.forecast_history order by as_of_date"""
    ).fetchall()
    assert rows == [
        (date(2025, 6, 29), None, None, None, None),
        (date(2025, 6, 30), "adida better", '{"adida": 0.8, "tsb": 0.9}', 2, 40),
    ]


def test_reproduced_plan_adds_no_history_and_changed_plan_adds_a_version(conn):
    day = date(2025, 6, 30)
    first = save_plan(conn, plan_frame(day, [12, 0]), plan_date=day, run_id="r1")
    again = save_plan(conn, plan_frame(day, [12, 0]), plan_date=day, run_id="r2")
    changed = save_plan(conn, plan_frame(day, [18, 0]), plan_date=day, run_id="r3")
    assert (first.version, first.appended) == (1, True)
    assert (again.version, again.appended) == (1, False)
    assert (changed.version, changed.appended) == (2, True)
    assert conn.execute("select count(*) from replenishment.plan_history").fetchone()[0] == 4
    current = conn.execute(
        "select ship_qty, run_id from replenishment.replenishment_plan order by location_id"
    ).fetchall()
    assert current == [(18.0, "r3"), (0.0, "r3")]


def test_backfilling_an_older_date_keeps_the_newest_plan_current(conn):
    save_plan(conn, plan_frame(date(2025, 6, 30), [12, 0]), plan_date=date(2025, 6, 30), run_id="new")
    save_plan(conn, plan_frame(date(2025, 6, 1), [6, 6]), plan_date=date(2025, 6, 1), run_id="old")
    dates = conn.execute("select distinct plan_date from replenishment.replenishment_plan").fetchall()
    assert dates == [(date(2025, 6, 30),)]
    assert conn.execute("select count(distinct plan_date) from replenishment.plan_history").fetchone()[0] == 2


def test_plan_history_gains_columns_the_plan_adds_and_keeps_old_versions(conn):
    day = date(2025, 6, 30)
    save_plan(conn, plan_frame(day, [12, 0]), plan_date=day, run_id="r1")
    extended = plan_frame(day, [18, 0]).assign(ship_date=[date(2025, 7, 1)] * 2)
    save_plan(conn, extended, plan_date=day, run_id="r2")
    rows = conn.execute(
        "select version, ship_date from replenishment.plan_history order by version, location_id"
    ).fetchall()
    assert rows == [(1, None), (1, None), (2, date(2025, 7, 1)), (2, date(2025, 7, 1))]


def test_plan_version_reads_the_newest_version_of_a_date_or_the_latest_date_before(conn):
    assert plan_version(conn, date(2025, 6, 30)).empty
    save_plan(conn, plan_frame(date(2025, 6, 29), [6, 0]), plan_date=date(2025, 6, 29), run_id="a")
    save_plan(conn, plan_frame(date(2025, 6, 30), [12, 0]), plan_date=date(2025, 6, 30), run_id="b")
    save_plan(conn, plan_frame(date(2025, 6, 30), [18, 0]), plan_date=date(2025, 6, 30), run_id="c")
    today = plan_version(conn, date(2025, 6, 30))
    assert today["run_id"].unique().tolist() == ["c"] and today["ship_qty"].tolist() == [18.0, 0.0]
    assert plan_version(conn, date(2025, 6, 30), before=True)["run_id"].unique().tolist() == ["a"]


def test_exceptions_are_replaced_per_plan_date(conn):
    found = pd.DataFrame(
        {
            "plan_date": [date(2025, 6, 30)],
            "partner_id": ["p"],
            "location_id": ["L"],
            "product_id": ["A"],
            "exception_type": ["excess_stock"],
            "severity": ["warning"],
            "detail": ["on hand 400 > 2x max cover"],
        }
    )
    save_planner_exceptions(conn, found, plan_date=date(2025, 6, 30))
    save_planner_exceptions(conn, found, plan_date=date(2025, 6, 30))
    assert conn.execute("select count(*) from replenishment.exceptions").fetchone()[0] == 1
    save_planner_exceptions(conn, found.iloc[0:0], plan_date=date(2025, 6, 30))
    assert conn.execute("select count(*) from replenishment.exceptions").fetchone()[0] == 0


def test_a_warehouse_planned_before_the_cadence_gains_its_columns_and_a_new_cadence_is_a_new_version(conn):
    day = date(2025, 6, 30)
    save_plan(conn, plan_frame(day, [12, 0]), plan_date=day, run_id="before")
    costed = plan_frame(day, [12, 0]).assign(
        ship_days_agreed=["Mon,Thu"] * 2, ship_days=["Thu", "Mon,Thu"], location_cost_per_day=[41.2, float("nan")]
    )
    rerun = save_plan(conn, costed, plan_date=day, run_id="after")
    assert (rerun.version, rerun.appended) == (2, True), "same quantities, but the plan now says on which days"
    assert save_plan(conn, costed, plan_date=day, run_id="again").appended is False
    types = dict(
        conn.execute("select column_name, column_type from (describe replenishment.replenishment_plan)").fetchall()
    )
    assert types["ship_days"] == "VARCHAR" and types["location_cost_per_day"] == "DOUBLE"
    current = conn.execute(
        "select ship_days, location_cost_per_day from replenishment.replenishment_plan order by location_id"
    ).fetchall()
    assert current == [("Thu", 41.2), ("Mon,Thu", None)]
    old = conn.execute("select count(*) from replenishment.plan_history where version = 1 and ship_days is null")
    assert old.fetchone()[0] == 2
    assert save_plan(conn, costed.assign(ship_days=["Mon", "Mon,Thu"]), plan_date=day, run_id="moved").version == 3


def test_a_first_night_that_plans_nothing_leaves_a_history_later_nights_can_save_to(conn):
    """An empty plan's text and date columns have no type to give: the table takes them from the first real plan."""
    first = date(2025, 6, 29)
    save_plan(conn, plan_frame(first, [12, 0]).iloc[0:0].astype(object), plan_date=first, run_id="empty")
    day = date(2025, 6, 30)
    saved = save_plan(conn, plan_frame(day, [12, 0]), plan_date=day, run_id="r1")
    assert saved.version == 1
    types = dict(conn.execute("select column_name, column_type from (describe replenishment.plan_history)").fetchall())
    assert types["partner_id"] == "VARCHAR" and types["plan_date"] == "DATE"
    assert conn.execute("select count(*) from replenishment.replenishment_plan").fetchone()[0] == 2


def test_the_previous_cadence_is_the_plan_before_the_night_even_on_a_rerun(conn):
    assert previous_cadence(conn, date(2025, 6, 30)).empty
    sunday = plan_frame(date(2025, 6, 29), [6, 0]).assign(ship_days="Mon,Thu", ship_date=date(2025, 6, 30))
    save_plan(conn, sunday, plan_date=date(2025, 6, 29), run_id="a")
    monday = plan_frame(date(2025, 6, 30), [6, 0]).assign(ship_days="Mon", ship_date=date(2025, 7, 3))
    for run in ("b", "rerun"):
        save_plan(conn, monday, plan_date=date(2025, 6, 30), run_id=run)
        previous = previous_cadence(conn, date(2025, 6, 30))
        assert previous["previous_ship_days"].tolist() == ["Mon,Thu"] * 2
        assert pd.to_datetime(previous["previous_ship_date"]).dt.date.tolist() == [date(2025, 6, 30)] * 2


def test_a_block_of_locations_reads_only_its_rows_of_the_plan_and_of_the_plan_before(conn):
    for day, ship in ((date(2025, 6, 29), [6, 0]), (date(2025, 6, 30), [12, 6])):
        save_plan(conn, plan_frame(day, ship).assign(ship_days="Mon", ship_date=day), plan_date=day, run_id="r")
    conn.register("block", pd.DataFrame({"partner_id": ["p1"], "location_id": ["L2"]}))
    tonight = plan_version(conn, date(2025, 6, 30), within="block")
    assert tonight[["location_id", "ship_qty"]].values.tolist() == [["L2", 6]]
    before = plan_version(conn, date(2025, 6, 30), before=True, within="block")
    assert before[["location_id", "ship_qty"]].values.tolist() == [["L2", 0]]
    assert previous_cadence(conn, date(2025, 6, 30), within="block")["location_id"].tolist() == ["L2"]
