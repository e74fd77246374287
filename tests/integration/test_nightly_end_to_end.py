"""The whole nightly graph, in process, on a small deterministic demo: ingest -> dbt -> GX -> forecast -> plan.

That a night run again changes nothing is proven once, in tests/integration/test_backfill.py, on the harder case: a
past night run again after a later one leaves that night's rows and every handed-on file as they were, and dbt's
schemas as that night first built them. A rerun here cost a full night of its own.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest

from assets.feeds.demo import generate_demo
from assets.quality import SUITE_CHECKS
from assets.renderers.plots import INLINE_MARKDOWN_LIMIT
from forecasts.replenishment.ship_days import parse_ship_days
from orchestration.jobs import NIGHTLY_JOB_NAME
from orchestration.runtime import settings
from orchestration.summary import table_row_counts

pytestmark = pytest.mark.integration

AS_OF = date(2025, 6, 30)


@dataclass(frozen=True)
class Night:
    root: Path  # the data folder: the warehouse, reports, exports and the other artefacts of the night
    landing: Path
    result: dg.ExecuteInProcessResult


def use_night(patch: pytest.MonkeyPatch, root: Path, landing: Path) -> None:
    patch.setenv(settings.WAREHOUSE_ENV, str(root / "warehouse.duckdb"))
    patch.setenv(settings.LANDING_ENV, str(landing))
    patch.setenv(settings.DATA_DIR_ENV, str(root))


FORECAST = dg.AssetKey(["forecasts", "demand_forecast"])
PLAN = dg.AssetKey(["replenishment", "replenishment_plan"])
# What decides whether a partner is planned after its raw rows changed: dbt rebuilding what the plan reads from raw,
# the suites' checks on it, the gate, the forecast and the plan. The files are already loaded; docs, exceptions,
# exports and the report follow the plan and are proven on the first night.
GATED_BY_THE_SUITES = dg.AssetSelection.assets(FORECAST, PLAN).upstream() - dg.AssetSelection.groups("feeds")


def run_nightly(as_of: date = AS_OF, selection: dg.AssetSelection | None = None) -> dg.ExecuteInProcessResult:
    from orchestration.definitions import defs

    job = defs().resolve_job_def(NIGHTLY_JOB_NAME)
    keys = None if selection is None else list(selection.resolve(job.asset_layer.asset_graph))
    return job.execute_in_process(
        partition_key=as_of.isoformat(),
        instance=dg.DagsterInstance.ephemeral(),
        asset_selection=keys,
        raise_on_error=False,
    )


def query(sql: str, params: list | None = None):
    with duckdb.connect(str(settings.warehouse_path()), read_only=True) as conn:
        return conn.execute(sql, params or []).df()


@pytest.fixture(scope="module")
def pristine_night(tmp_path_factory) -> Night:
    """The first night on the demo landing, built once; no test changes it (those that run again take a copy)."""
    root = tmp_path_factory.mktemp("nightly")
    landing = tmp_path_factory.mktemp("landing")
    generate_demo(landing, settings.partner_config_dir(), seed=11, days=200, end_date=AS_OF, scale="small")
    with pytest.MonkeyPatch.context() as patch:
        use_night(patch, root, landing)
        result = run_nightly()
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return Night(root, landing, result)


@pytest.fixture
def first_run(pristine_night, monkeypatch) -> dg.ExecuteInProcessResult:
    """The first night, for tests that only read what it wrote."""
    use_night(monkeypatch, pristine_night.root, pristine_night.landing)
    return pristine_night.result


@pytest.fixture
def own_night(pristine_night, tmp_path, monkeypatch) -> Path:
    """A copy of the first night's warehouse and artefacts, for a test that runs the job again or changes data.

    The landing is shared: a run only reads it.
    """
    root = tmp_path / "night"
    shutil.copytree(pristine_night.root, root)
    use_night(monkeypatch, root, pristine_night.landing)
    return root


def test_every_check_in_the_job_was_executed(first_run):
    from orchestration.definitions import defs

    expected = set(defs().resolve_job_def(NIGHTLY_JOB_NAME).asset_layer.asset_graph.asset_check_keys)
    evaluated = {e.asset_check_key for e in first_run.get_asset_check_evaluations()}
    dbt_checks = {key for key in expected if not key.name.startswith("gx_")}
    assert len(dbt_checks) >= 20, "dbt tests should surface as asset checks"
    assert {key.name for key in expected} >= {"gx_fct_sales_daily", "gx_fct_inventory_daily"}
    assert evaluated == expected


def test_forecast_and_plan_materializations_carry_their_plots(first_run):
    plots = {
        FORECAST: "top_series_plot",
        PLAN: "inventory_projection_plot",
    }
    materializations = {
        event.asset_key: event.event_specific_data.materialization
        for event in first_run.all_events
        if event.is_step_materialization and event.asset_key in plots
    }
    for key, name in plots.items():
        text = materializations[key].metadata[name].value
        assert text.startswith("![plot](data:image/png;base64,"), (key, text[:60])
        # The chart beside the plot is short enough for the Dagster UI to draw on the asset page, not behind a button.
        chart = materializations[key].metadata[name.replace("_plot", "_chart")].value
        assert "](data:image/svg+xml," in chart and len(chart) < INLINE_MARKDOWN_LIMIT, (key, chart[:60])


def test_plan_is_non_empty_and_respects_case_packs_and_moq(first_run):
    plan = query("select * from replenishment.replenishment_plan where plan_date = ?", [AS_OF])
    assert len(plan) > 0
    assert plan["partner_id"].nunique() == 3
    shipping = plan[plan["ship_qty"] > 0]
    assert len(shipping) > 0, "a realistic demo always has something to ship"
    assert (shipping["ship_qty"] % shipping["case_pack"] == 0).all()
    assert (shipping["ship_qty"] >= shipping["moq"]).all()
    assert (plan["ship_qty"] >= 0).all()
    assert plan["reason_code"].notna().all()
    not_due = plan[plan["inventory_position"] > plan["reorder_point"]]
    assert (not_due["ship_qty"] == 0).all()
    # The agreements carry cost terms: each location ships on its costed cadence, one truck for all its lines.
    assert plan["location_cost_per_day"].notna().all()
    assert (plan["location_cost_per_day"] <= plan["location_agreed_cost_per_day"] + 1e-9).all()
    assert (plan.groupby(["partner_id", "location_id"])["ship_days"].nunique() == 1).all()
    for row in plan[["ship_days", "ship_days_agreed", "ship_date"]].drop_duplicates().itertuples(index=False):
        assert parse_ship_days(row.ship_days) <= parse_ship_days(row.ship_days_agreed)
        assert pd.Timestamp(row.ship_date).weekday() in parse_ship_days(row.ship_days)


def test_short_products_are_shared_out_without_shipping_more_than_we_hold(first_run):
    shipped = query(
        """select plan.product_id, stock.available_qty, sum(plan.allocated_qty) as allocated,
                  sum(plan.ship_qty) as required, count(*) filter (where plan.allocation_shortfall) as cut_lines
           from replenishment.replenishment_plan as plan
           join staging.stg_supplier__supplier_stock as stock using (product_id)
           where plan.plan_date = ? group by all""",
        [AS_OF],
    )
    assert len(shipped) > 0
    assert (shipped["allocated"] <= shipped["available_qty"]).all()
    short = shipped[shipped["required"] > shipped["available_qty"]]
    assert len(short) > 0, "the demo holds too little of its fastest movers for every partner"
    assert (short["cut_lines"] > 0).all()


def test_forecast_is_non_negative_and_ordered(first_run):
    forecast = query("select * from forecasts.demand_forecast")
    assert len(forecast) > 0
    assert (forecast["as_of_date"].dt.date == AS_OF).all()
    assert (forecast["p50"] >= 0).all()
    assert (forecast["p90"] >= forecast["p50"] - 1e-9).all()
    assert forecast["forecast_date"].min().date() > AS_OF
    assert forecast.groupby("series_id").size().eq(28).all()


def test_the_demos_count_in_cases_reaches_the_marts_in_units_and_each_interchange_has_its_outcome(first_run):
    """The demo's 846 of two interchanges (the second in 005010, with one count in cases): the warehouse keeps the
    count as sent and converts it through the case pack, and records both interchanges loaded."""
    converted = query(
        """select raw.on_hand_qty as cases, resolved.on_hand_qty, resolved.units_per_uom, resolved.uom
           from intermediate.int_stock_resolved as resolved
           join raw.stock_snapshots as raw using (source_file_id, source_line, location_id)
           where resolved.uom_as_sent = 'ca'"""
    )
    assert len(converted) == 1
    row = converted.iloc[0]
    assert row.units_per_uom in (6, 12, 24) and row.uom == "ea"
    assert row.on_hand_qty == row.cases * row.units_per_uom and float(row.on_hand_qty).is_integer()
    interchanges = query(
        """select edi_version, outcome from staging.stg_partner_feeds__edi_interchanges
           where partner_id = 'redwood_grocers' and edi_version = '005010'"""
    )
    assert interchanges.values.tolist() == [["005010", "loaded"]]


def test_cmi_explain_traces_a_plan_row_to_its_stock_file_and_line(first_run, capsys):
    import re

    from orchestration import cli

    row = query(
        "select partner_id, location_id, product_id, on_hand from replenishment.replenishment_plan "
        "where plan_date = ? and observation_age_days = 0 order by ship_qty desc limit 1",
        [AS_OF],
    ).iloc[0]
    explained = query(
        "select count(*) as n from replenishment.plan_explanations where plan_date = ? and partner_id = ?",
        [AS_OF, row.partner_id],
    )
    assert explained["n"].iloc[0] > 0
    code = cli.main(["explain", row.partner_id, row.location_id, row.product_id, "--date", AS_OF.isoformat()])
    out = capsys.readouterr().out
    assert code == 0, out
    source = re.search(r"source: (\S+) line (\d+), received (\S+ \S+)", out)
    assert source, out
    path, line, received = source.group(1), int(source.group(2)), source.group(3)
    # The file and line the explanation names hold that very count of that item at that store.
    raw = query(
        """select snapshot.on_hand_qty, snapshot.location_id, files.received_at
           from raw.stock_snapshots as snapshot join raw.feed_files as files using (source_file_id)
           where files.path = ? and snapshot.source_line = ? and snapshot.location_id = ?""",
        [path, line, row.location_id],
    )
    assert len(raw) >= 1, (path, line)
    assert raw["on_hand_qty"].iloc[0] == row.on_hand
    assert raw["received_at"].iloc[0].strftime("%Y-%m-%d %H:%M") == received
    for step in ("Case packs and MOQ", "Allocation", "Forecast accuracy", "Data checks", "Ship days and review"):
        assert step in out


def test_german_partner_export_reads_back_with_its_own_ids_semicolons_and_decimal_commas(first_run):
    import csv

    export = settings.data_dir() / "exports" / "hansa_handel" / f"replenishment_plan_{AS_OF.isoformat()}.csv"
    text = export.read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(text.splitlines(), delimiter=";"))
    plan = query("select * from replenishment.replenishment_plan where partner_id = 'hansa_handel'")
    assert len(rows) == len(plan) > 0
    eans = set(query("select partner_item_ref from raw.partner_items where ref_type = 'ean'")["partner_item_ref"])
    assert {row["partner_item_id"] for row in rows} <= eans
    assert all(len(row["gtin"]) == 14 and len(row["location_gln"]) == 13 for row in rows)
    assert {row["partner_id"] for row in rows} == {"hansa_handel"}
    assert rows[0]["plan_date"] == AS_OF.strftime("%d.%m.%Y")
    fractions = [row["demand_daily_mean"] for row in rows if not row["demand_daily_mean"].isdigit()]
    assert fractions and all("," in value and "." not in value for value in fractions)
    assert all(
        float(row["ship_cases"].replace(",", ".")) * float(row["case_pack"]) == float(row["ship_qty"]) for row in rows
    )


def test_marts_and_quality_results_are_filled(first_run):
    counts = dict(table_row_counts(duckdb.connect(str(settings.warehouse_path()), read_only=True)))
    for table in (
        "raw.sales",
        "raw.stock_snapshots",
        "raw.feed_files",
        "marts.fct_sales_daily",
        "marts.fct_inventory_daily",
        "quality.check_results",
        "replenishment.plan_history",
    ):
        assert counts.get(table, 0) > 0, table
    results = query("select * from quality.check_results where as_of_date = ?", [AS_OF])
    suites = results[results["suite"] != "feed_freshness"]
    assert set(suites["check_name"]) == {check.name for check in SUITE_CHECKS}
    freshness = results[results["suite"] == "feed_freshness"]
    assert set(freshness["partner_id"]) == {"hansa_handel", "huaxin_retail", "redwood_grocers"}
    assert results["partner_id"].nunique() == 3


def test_partner_failing_a_blocking_rule_gets_no_plan_while_others_do(own_night):
    plan_before = query("select partner_id, count(*) as n from replenishment.replenishment_plan group by 1")
    held_partner = sorted(plan_before["partner_id"])[0]
    # That partner resends its recent stock counts badly broken, a minute after its latest stock file: far more
    # negative on-hand than the 2 % a store system may show, which the inventory suite treats as an error. A new
    # delivery, as the night sees them: a ledger row and raw rows of a file of its own.
    with duckdb.connect(str(settings.warehouse_path())) as conn:
        conn.execute(
            """insert into raw.feed_files
            select * replace (
                'broken-resend' as source_file_id,
                path || '.resend' as path,
                received_at + interval 1 minute as received_at,
                current_localtimestamp() as loaded_at
            )
            from raw.feed_files
            where partner_id = ? and record_type = 'stock' and status = 'loaded'
            order by received_at desc
            limit 1""",
            [held_partner],
        )
        conn.execute(
            """insert into raw.stock_snapshots
            select * replace (-5.0 as on_hand_qty, 'broken-resend' as source_file_id)
            from raw.stock_snapshots
            where partner_id = ? and as_of_date > ?""",
            [held_partner, date(2025, 6, 20)],
        )
    result = run_nightly(selection=GATED_BY_THE_SUITES)
    assert result.success, "the other partners keep flowing"
    assert {event.asset_key for event in result.get_asset_materialization_events()} >= {FORECAST, PLAN}
    gate = query("select partner_id, status from quality.partner_data_gate where as_of_date = ?", [AS_OF])
    assert gate.set_index("partner_id").loc[held_partner, "status"] == "held"
    plan = query("select partner_id, count(*) as n from replenishment.replenishment_plan group by 1")
    assert held_partner not in set(plan["partner_id"])
    assert set(plan["partner_id"]) == set(plan_before["partner_id"]) - {held_partner}
    forecast = query("select distinct partner_id from forecasts.demand_forecast")
    assert held_partner not in set(forecast["partner_id"])


def test_report_opens_on_desktop_and_phone_with_headline_exceptions_partners_and_an_item(first_run, browser):
    page = settings.data_dir() / "reports" / AS_OF.isoformat() / "index.html"
    assert page.exists()
    critical = query(
        "select partner_id, location_id, product_id from replenishment.exceptions "
        "where plan_date = ? and severity = 'critical'",
        [AS_OF],
    )
    held = set(
        query("select partner_id from quality.partner_data_gate where as_of_date = ? and status = 'held'", [AS_OF])[
            "partner_id"
        ]
    )
    for width, height in ((1400, 1000), (390, 844)):
        browser.set_window_size(width, height)
        browser.get(page.as_uri())
        assert browser.title == f"CMI nightly report {AS_OF}"
        assert browser.execute_script("return document.documentElement.scrollWidth") <= browser.execute_script(
            "return window.innerWidth"
        ), f"the page scrolls sideways at {width} px"
        headline = browser.find_element("id", "headline").text
        assert "units shipping" in headline and "critical exceptions" in headline and "partners held" in headline
        assert int(browser.find_element("id", "critical-count").text) == len(critical) + len(held)
        shown = browser.find_elements("css selector", "#act-today tr.exception.critical")
        assert len(shown) == len(critical) + len(held), "every critical exception is on the first page"
        assert all(element.is_displayed() for element in shown)
    text = browser.find_element("id", "act-today").text
    for exception in critical.itertuples(index=False):
        assert exception.product_id in text and exception.location_id in text
    browser.set_window_size(1400, 1000)
    for partner in ("hansa_handel", "huaxin_retail", "redwood_grocers"):
        browser.get(page.as_uri())
        browser.find_element("id", f"partner-{partner}").click()
        assert browser.find_element("id", "data-gate").is_displayed()
        assert partner in browser.find_element("tag name", "h1").text
        if partner in held:
            assert "nothing is planned" in browser.find_element("id", "data-gate").text
    browser.get(page.as_uri())
    browser.find_elements("css selector", "#act-today a.item-link")[0].click()
    for element in ("chart-demand", "chart-stock", "explanation"):
        assert browser.find_element("id", element).is_displayed()
    steps = browser.find_element("id", "explanation").text
    assert "Stock on hand" in steps and "source:" in steps and "Allocation" in steps


def test_forecast_at_partner_level_is_split_back_to_every_planned_location(own_night):
    from orchestration.definitions import defs

    job = defs().resolve_job_def(NIGHTLY_JOB_NAME)
    # The night's warehouse is built: the forecast and the plan that reads it are run again, not the whole night.
    result = job.execute_in_process(
        partition_key=AS_OF.isoformat(),
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"ops": {"forecasts__demand_forecast": {"config": {"level": "partner"}}}},
        asset_selection=[FORECAST, PLAN],
        raise_on_error=False,
    )
    assert result.success
    materialized = {event.asset_key.to_user_string() for event in result.get_asset_materialization_events()}
    assert materialized >= {"forecasts/demand_forecast", "replenishment/replenishment_plan"}
    forecast = query("select * from forecasts.demand_forecast")
    assert forecast["model"].str.endswith("@partner").all()
    assert forecast["series_id"].str.count(r"\|").eq(2).all(), "still one series per location for the plan"
    plan = query("select count(*) as n from replenishment.replenishment_plan where plan_date = ?", [AS_OF])
    assert plan["n"].iloc[0] > 0


def test_quality_and_dbt_docs_are_built_and_linked_from_the_report(first_run):
    gx_index = settings.data_dir() / "quality_docs" / AS_OF.isoformat() / "index.html"
    dbt_page = settings.data_dir() / "dbt_docs" / "static_index.html"
    assert gx_index.is_file() and dbt_page.is_file()
    index = gx_index.read_text(encoding="utf-8")
    for partner in ("hansa_handel", "huaxin_retail", "redwood_grocers"):
        assert partner in index
    assert "model.cmi.fct_sales_daily" in dbt_page.read_text(encoding="utf-8")
    report = (settings.data_dir() / "reports" / AS_OF.isoformat() / "index.html").read_text(encoding="utf-8")
    assert f'href="../../quality_docs/{AS_OF.isoformat()}/index.html"' in report
    assert 'href="../../dbt_docs/static_index.html"' in report


def test_the_plan_its_explanations_and_exceptions_are_the_same_a_location_at_a_time_as_in_one_block(
    own_night, monkeypatch
):
    from assets import replenishment
    from orchestration.runtime.resources import Warehouse

    tables = {
        "replenishment.plan_history": "* exclude (run_id, planned_at)",
        "replenishment.plan_explanations": "*",
        "replenishment.exceptions": "*",
    }

    def written(conn: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
        return {
            table: conn.execute(f"select {columns} from {table} where plan_date = ? order by all", [AS_OF]).df()
            for table, columns in tables.items()
        }

    # The night's own plan was made in one block of locations; it is made again a location at a time.
    with duckdb.connect(str(own_night / "warehouse.duckdb")) as conn:
        assert len(replenishment.saved_plan_blocks(conn, AS_OF)) == 1
        in_one_block = written(conn)
        conn.execute("delete from replenishment.plan_history where plan_date = ?", [AS_OF])
    monkeypatch.setattr(replenishment, "PLAN_BLOCK_SERIES", 1)
    warehouse = Warehouse(path=str(own_night / "warehouse.duckdb"))
    for asset in (replenishment.replenishment_plan, replenishment.exceptions):
        asset(dg.build_asset_context(partition_key=AS_OF.isoformat()), warehouse=warehouse)
    with duckdb.connect(str(own_night / "warehouse.duckdb"), read_only=True) as conn:
        assert len(replenishment.saved_plan_blocks(conn, AS_OF)) > 3, "a block per location"
        by_location = written(conn)
    for table in tables:
        assert len(in_one_block[table]) > 0, table
        pd.testing.assert_frame_equal(in_one_block[table], by_location[table], obj=table)
