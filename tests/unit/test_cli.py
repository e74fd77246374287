from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.cli import RunPaths, build_parser, dagster_home_path, main
from orchestration.night import NightLog, RunOutcome
from orchestration.runtime import settings
from orchestration.summary import (
    format_table_counts,
    group_by_schema,
    plan_cost_section,
    print_failure,
    print_summary,
    table_row_counts,
)


@pytest.mark.parametrize("command", ["demo", "run", "ui"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: cmi {command}" in capsys.readouterr().out


def test_top_level_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("demo", "run", "ui"):
        assert command in out


def test_bad_date_is_refused_on_one_line_with_the_expected_format(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["run", "--as-of", "30.06.2025"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "YYYY-MM-DD" in err and err.count("\n") == 1 and err.startswith("cmi run: ")


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--partner", "redwood_grocers"],  # would have been taken for --partner-config
        ["run", "--ware", "x.duckdb"],
        ["demo", "--se", "3"],
        ["parse", "--part", "redwood_grocers", "file.csv"],
    ],
)
def test_abbreviated_options_are_refused_not_guessed(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments" in err and err.count("\n") == 1
    assert err.startswith(f"cmi {argv[0]}: ")


def _one_line_exit_2(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def test_a_missing_landing_folder_is_one_line_and_exit_2(tmp_path, capsys):
    err = _one_line_exit_2(
        ["run", "--landing", str(tmp_path / "nowhere"), "--warehouse", str(tmp_path / "w.duckdb")], capsys
    )
    assert err.startswith("cmi run: --landing") and "no such landing folder" in err


def test_a_warehouse_in_an_unwritable_place_is_one_line_and_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    err = _one_line_exit_2(["run", "--landing", str(tmp_path), "--warehouse", str(blocker / "w.duckdb")], capsys)
    assert err.startswith("cmi run: --warehouse")
    err = _one_line_exit_2(["run", "--landing", str(tmp_path), "--warehouse", str(tmp_path)], capsys)
    assert "is a folder" in err


def test_a_date_before_the_first_night_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(settings.PARTITIONS_START_ENV, "2025-01-01")
    argv = ["run", "--landing", str(tmp_path), "--warehouse", str(tmp_path / "w.duckdb"), "--as-of", "2024-12-31"]
    err = _one_line_exit_2(argv, capsys)
    assert "before the first business date 2025-01-01" in err
    err = _one_line_exit_2([*argv[:-1], "2999-01-01"], capsys)
    assert "in the future" in err


def test_each_warehouse_has_its_own_dagster_home_and_the_ui_uses_it(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    demo = dagster_home_path(tmp_path, tmp_path / "warehouse.duckdb")
    other = dagster_home_path(tmp_path, tmp_path / "other" / "warehouse.duckdb")
    assert demo != other and demo.parent == other.parent == tmp_path / "dagster_home"
    assert demo.name.startswith("warehouse-")
    assert dagster_home_path(tmp_path, tmp_path / "warehouse.duckdb") == demo
    paths = RunPaths(tmp_path / "warehouse.duckdb", tmp_path, tmp_path, tmp_path)
    assert paths.environment()["DAGSTER_HOME"] == str(demo)


def test_a_failed_run_keeps_the_nights_last_good_log(tmp_path):
    good = NightLog(tmp_path, date(2025, 6, 30))
    with good.writing() as log:
        log.write("dbt: 31 models built\n")
        good.finish(success=True)
    failed = NightLog(tmp_path, date(2025, 6, 30))
    with failed.writing() as log:
        log.write("landing folder gone\n")
        failed.finish(success=False)
    assert (tmp_path / "nightly-2025-06-30.log").read_text() == "dbt: 31 models built\n"
    assert failed.path == tmp_path / "nightly-2025-06-30.failed.log"
    assert failed.path.read_text() == "landing folder gone\n"


@pytest.fixture
def stale_warehouse(tmp_path) -> RunPaths:
    """A warehouse holding an earlier run's plan for the night."""
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema replenishment")
        conn.execute(
            """create table replenishment.replenishment_plan as select 'stale_partner' as partner_id,
               'L1' as location_id, 'P1' as product_id, date '2025-06-30' as plan_date, 1.0 as inventory_position,
               5.0 as reorder_point, 9.0 as order_up_to, 12.0 as ship_qty, 12.0 as allocated_qty,
               false as allocation_shortfall, 'below_reorder_point' as reason_code"""
        )
        conn.execute("create schema raw")
        conn.execute("create table raw.partners as select 1 as x where false")
    return RunPaths(path, tmp_path, tmp_path, tmp_path)


def test_a_failed_night_prints_no_plan_of_an_earlier_run(stale_warehouse, capsys):
    from orchestration.alerts import StepFailure

    outcome = RunOutcome("run-2", False, frozenset({"raw/partners"}), [StepFailure("partner_feeds", "OSError: gone")])
    print_failure(date(2025, 6, 30), outcome, Path("nightly-2025-06-30.failed.log"))
    captured = capsys.readouterr()
    assert "FAILED" in captured.err and "partner_feeds: OSError: gone" in captured.err
    assert "not written for this night: plan, report, exports" in captured.err
    assert "stale_partner" not in captured.out + captured.err


def test_a_plan_is_printed_only_when_this_run_wrote_it(stale_warehouse, capsys):
    print_summary(stale_warehouse, date(2025, 6, 30), RunOutcome("r", True, frozenset()))
    assert "stale_partner" not in capsys.readouterr().out
    print_summary(
        stale_warehouse, date(2025, 6, 30), RunOutcome("r", True, frozenset({"replenishment/replenishment_plan"}))
    )
    out = capsys.readouterr().out
    assert "stale_partner" in out and "Plan for 2025-06-30: 1 lines ship 12 units" in out
    assert "Where to look next:" in out and "make ui" in out


def test_the_summary_gives_the_reports_plan_cost_a_day_per_partner_and_a_dash_without_cost_terms():
    # version, partner, location, ship days, agreed days, holding, shipping, stock-out, location's cost, every agreed
    lines = [
        (1, "acme", "L1", "Tue", "Tue,Fri", 9.0, 9.0, 9.0, 27.0, 27.0),  # an earlier version of the night's plan
        (2, "acme", "L1", "Tue", "Tue,Fri", 1.5, 10.0, 0.25, 11.75, 15.0),
        (2, "acme", "L2", "Fri", "Fri", 2.0, 20.0, 0.0, 22.0, 30.0),
        (2, "nord", "DC1", "Mon", "Mon", None, None, None, None, None),
    ]
    with duckdb.connect() as conn:
        assert plan_cost_section(conn, date(2025, 6, 30)) == [], "no plan history yet: no section"
        conn.execute("create schema replenishment")
        conn.execute(
            """create table replenishment.plan_history (version integer, partner_id varchar, location_id varchar,
               ship_days varchar, ship_days_agreed varchar, holding_cost_per_day double,
               shipping_cost_per_day double, stockout_cost_per_day double, location_cost_per_day double,
               location_agreed_cost_per_day double, product_id varchar, plan_date date, plan_fingerprint varchar)"""
        )
        conn.executemany(
            "insert into replenishment.plan_history values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'P1', '2025-06-30', 'f')",
            lines,
        )
        section = plan_cost_section(conn, date(2025, 6, 30))
    assert section[0] == "\nPlan cost a day (expected, on the ship days chosen, priced by each agreement):"
    assert section[1].split() == ["partner", "holding", "shipping", "stock-out", "total", "every", "agreed", "day"]
    assert section[2].split() == ["acme", "3.50", "30.00", "0.25", "33.75", "45.00"]
    assert section[3].split() == ["nord", "–", "–", "–", "–", "–", "no", "cost", "terms"]


def test_tables_are_listed_by_schema_plan_first_and_empty_ones_say_so():
    lines = format_table_counts(
        {"replenishment": [("replenishment_plan", 192)], "raw": [("feed_files", 171), ("feed_rejects", 0)]}
    )
    assert lines[0].split() == ["replenishment", "replenishment_plan", "192"]
    assert "feed_rejects (empty)" in lines[1]


def test_row_counts_name_base_tables_and_mart_views_and_group_them_plan_first():
    with duckdb.connect() as conn:
        for schema in ("raw", "staging", "marts", "replenishment"):
            conn.execute(f"create schema {schema}")
        conn.execute("create table raw.sales as select 1 as units")
        conn.execute("create table raw.feed_files as select * from range(2)")
        conn.execute("create view staging.stg_sales as select * from raw.sales")
        conn.execute("create view marts.fct_sales_daily as select * from raw.sales")
        conn.execute("create table replenishment.replenishment_plan as select * from range(3)")
        counts = table_row_counts(conn)
    assert counts == [
        ("marts.fct_sales_daily", 1),
        ("raw.feed_files", 2),
        ("raw.sales", 1),
        ("replenishment.replenishment_plan", 3),
    ], "staging views are not counted; a mart that is a view is"
    assert list(group_by_schema(counts).items()) == [
        ("replenishment", [("replenishment_plan", 3)]),
        ("marts", [("fct_sales_daily", 1)]),
        ("raw", [("feed_files", 2), ("sales", 1)]),
    ]
