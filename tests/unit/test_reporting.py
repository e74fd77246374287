"""The planner's report: headline, act-today list, partner and item pages, from small frames (no warehouse)."""

import html
import re
from datetime import date

import duckdb
import pandas as pd
import pytest

from assets.renderers.report import ReportInputs, plan_summary, render, render_report, selection
from assets.renderers.report.queries import read_report_inputs
from assets.renderers.report.selection import select_item_pages
from assets.renderers.report.views import plan_costs, quality_sentence
from forecasts.replenishment.explain import STEPS, ExplanationInputs, explain_plan
from forecasts.replenishment.policy import allocate_fairly, plan_replenishment

DAY = date(2025, 6, 30)


def policy_row(partner_id: str, location_id: str, product_id: str, **overrides) -> dict:
    row = {
        "partner_id": partner_id,
        "location_id": location_id,
        "product_id": product_id,
        "on_hand": 40.0,
        "on_order": 0.0,
        "in_transit": 0.0,
        "committed": 0.0,
        "demand_daily_mean": 4.0,
        "demand_daily_std": 2.0,
        "lead_time_days": 3.0,
        "lead_time_std_days": 0.5,
        "review_period_days": 3.0,
        "service_level": 0.95,
        "min_cover_days": 3.0,
        "max_cover_days": 20.0,
        "case_pack": 6.0,
        "moq": 12.0,
    }
    return {**row, **overrides}


def plan() -> pd.DataFrame:
    rows = [
        policy_row("a", "L1", "P1", on_hand=2.0),
        policy_row("a", "L2", "P1", on_hand=1000.0),
        policy_row("b", "S1", "P2", on_hand=3.0),
    ]
    return allocate_fairly(plan_replenishment(pd.DataFrame(rows), DAY), {"P1": 12.0})


def inputs(**overrides) -> ReportInputs:
    days = pd.date_range("2025-04-01", DAY)
    history = pd.DataFrame(
        {"partner_id": "a", "location_id": "L1", "product_id": "P1", "sales_date": days, "units_sold": 4.0}
    )
    forecast = pd.DataFrame(
        {
            "partner_id": "a",
            "location_id": "L1",
            "product_id": "P1",
            "forecast_date": pd.date_range("2025-07-01", periods=28),
            "p50": 4.0,
            "p90": 6.0,
            "model": "prophet",
            "demand_class": "smooth",
        }
    )
    rows = plan()
    exceptions = pd.DataFrame(
        [
            {**dict(zip(["partner_id", "location_id", "product_id"], key, strict=True)), **extra}
            for key, extra in [
                (("b", "S1", "P2"), {"exception_type": "stockout_within_lead_time", "severity": "critical"}),
                (("a", "L1", "P1"), {"exception_type": "stockout_within_lead_time", "severity": "critical"}),
                (("a", "L1", "P1"), {"exception_type": "allocation_shortfall", "severity": "warning"}),
                (("a", "L2", "P1"), {"exception_type": "excess_stock", "severity": "warning"}),
            ]
        ]
    ).assign(detail="see the plan")
    values = dict(
        plan_date=DAY,
        run_id="run-1",
        plan=rows,
        gate=pd.DataFrame({"partner_id": ["a", "b", "c"], "status": ["pass", "warn", "held"], "reasons": None}),
        check_failures=pd.DataFrame(
            [
                {
                    "check_name": "gx_fct_inventory_daily",
                    "suite": "fct_inventory_daily",
                    "partner_id": "c",
                    "expectation": "expect_column_values_to_be_between",
                    "column": "on_hand_qty",
                    "severity": "critical",
                    "unexpected_count": 40,
                    "examples": "[-5.0, -5.0]",
                }
            ]
        ),
        forecast=forecast,
        sales_history=history,
        exceptions=exceptions,
        products=pd.DataFrame({"product_id": ["P1", "P2"], "product_description": ["Mineral Water 1L", "Olive Oil"]}),
        locations=pd.DataFrame(
            {
                "partner_id": ["a", "a", "b"],
                "location_id": ["L1", "L2", "S1"],
                "location_name": ["Hamburg-Altona", "Bremen", "Lincoln Park"],
                "partner_name": ["Alpha GmbH", "Alpha GmbH", "Beta Grocers"],
            }
        ),
        plan_trend=pd.DataFrame(
            {
                "plan_date": pd.to_datetime(["2025-06-29", "2025-06-30"]),
                "partner_id": "a",
                "units_needed": [30.0, 24.0],
                "units_shipping": [30.0, 12.0],
            }
        ),
        explanations=explain_plan(rows, ExplanationInputs(forecast=forecast), DAY),
    )
    values.update(overrides)
    return ReportInputs(**values)


def test_plan_summary_separates_needed_from_shipping():
    summary = plan_summary(plan()).set_index("partner_id")
    assert summary.loc["a", "units_needed"] > summary.loc["a", "units_to_ship"] == 12.0
    assert summary.loc["a", "lines_to_ship"] == 1
    assert summary.loc["b", "rows"] == 1


def test_headline_counts_shipping_needed_critical_and_held(tmp_path):
    page = render_report(inputs(), tmp_path).read_text()
    headline = page[page.index('id="headline"') : page.index('id="act-today"')]
    needed = plan()["ship_qty"].sum()
    assert f'id="units-needed">{needed:,.0f}<' in headline
    shipping = plan()["allocated_qty"].sum()
    assert f'id="units-shipping">{shipping:,.0f}<' in headline
    assert 'id="critical-count">3<' in headline  # two stock-outs and the held partner
    assert "partners held: c" in headline
    assert '<meta name="viewport"' in page and "http" not in page.split("<body>")[0]


def test_act_today_lists_every_critical_first_with_an_action(tmp_path):
    page = render_report(inputs(), tmp_path).read_text()
    severities = re.findall(r'<tr class="exception (\w+)"', page)
    assert severities[:3] == ["critical"] * 3 and set(severities[3:]) == {"warning"}
    assert "Partner held: nothing planned" in page
    assert "Find 24 more units of Mineral Water 1L" in page  # needed 36, shipping 12
    assert "Hamburg-Altona" in page and "Beta Grocers" in page


def test_every_partner_gets_a_page_even_when_held(tmp_path):
    render_report(inputs(), tmp_path)
    for partner in ("a", "b", "c"):
        assert (tmp_path / "partners" / f"{partner}.html").is_file()
    held = (tmp_path / "partners" / "c.html").read_text()
    assert "nothing is planned for this partner tonight" in held
    assert "40 stock count(s) below zero (e.g. −5, −5)" in held
    assert "expect_column_values_to_be_between" not in held
    alpha = (tmp_path / "partners" / "a.html").read_text()
    assert "Alpha GmbH" in alpha and 'href="../items/a__L1__P1.html"' in alpha


def test_item_page_shows_charts_and_the_explanation(tmp_path):
    render_report(inputs(), tmp_path)
    item = (tmp_path / "items" / "a__L1__P1.html").read_text()
    assert 'id="chart-demand"' in item and 'id="chart-stock"' in item
    assert "reorder point" in item and "safety stock" in item
    assert item.count("<li><b>") == len(STEPS)
    assert "Case packs and MOQ" in item and "Allocation" in item
    assert "cmi explain a L1 P1 --date 2025-06-30" in item


def test_empty_night_says_so_instead_of_failing(tmp_path):
    empty = ReportInputs(
        plan_date=DAY,
        run_id="r",
        plan=pd.DataFrame(),
        gate=pd.DataFrame(),
        check_failures=pd.DataFrame(),
        forecast=pd.DataFrame(),
        sales_history=pd.DataFrame(),
    )
    page = render_report(empty, tmp_path).read_text()
    assert "Nothing critical or warning tonight." in page
    assert "no data yet" in page


def test_quality_reasons_are_sentences():
    reconciliation = {
        "suite": "stock_reconciliation",
        "expectation": "expect_column_values_to_be_in_set",
        "column": "is_above_tolerance",
        "severity": "warning",
        "unexpected_count": 47,
        "examples": "[true, true, true]",
    }
    text = quality_sentence(reconciliation)
    assert text.startswith("47 stock count(s) that do not reconcile")
    assert "true" not in text and "warning, the plan goes ahead" in text


def test_docs_are_linked_relative_to_the_report_only_when_built(tmp_path):
    gx_index = tmp_path / "quality_docs" / "2025-06-30" / "index.html"
    gx_index.parent.mkdir(parents=True)
    gx_index.write_text("<html></html>")
    linked = inputs(docs_links={"GX": gx_index, "dbt": tmp_path / "dbt_docs" / "static_index.html"})
    page = render_report(linked, tmp_path / "reports" / "2025-06-30").read_text()
    assert '<a href="../../quality_docs/2025-06-30/index.html">GX</a>' in page
    assert "dbt_docs" not in page


COSTS = {"unit_cost": 4.0, "holding_cost_rate": 0.25, "shipment_cost": 2500.0, "stockout_penalty_rate": 0.5}


def costed_plan() -> pd.DataFrame:
    rows = [
        policy_row("a", "L1", "P1", on_hand=2.0, ship_days="Mon,Thu", **COSTS),
        policy_row("a", "L1", "P2", on_hand=2.0, ship_days="Mon,Thu", **COSTS),
        policy_row("a", "L2", "P1", ship_days="Mon,Thu", **COSTS),
        policy_row("b", "S1", "P2", on_hand=3.0, ship_days="Mon,Thu", **(COSTS | {"unit_cost": None})),
        policy_row("c", "T1", "P1", ship_days="Mon,Thu", **COSTS),
        policy_row("c", "T2", "P1", ship_days="Mon,Thu", **(COSTS | {"shipment_cost": None})),
    ]
    return plan_replenishment(pd.DataFrame(rows), DAY)


def test_plan_costs_add_up_per_partner_and_leave_uncosted_lines_out():
    plan = costed_plan()
    costs = plan_costs(plan).set_index("partner_id")
    a = plan[plan["partner_id"] == "a"]
    assert costs.loc["a", "holding"] == pytest.approx(a["holding_cost_per_day"].sum())
    assert costs.loc["a", "shipping"] == pytest.approx(2 * 2500.0 / 7), "two locations, a weekly truck each"
    locations = a.drop_duplicates("location_id")
    assert costs.loc["a", "total"] == pytest.approx(locations["location_cost_per_day"].sum())
    assert costs.loc["a", "every_agreed_day"] == pytest.approx(locations["location_agreed_cost_per_day"].sum())
    assert (costs.loc["a", "locations"], costs.loc["a", "fewer_days_locations"]) == (2, 2)
    # A partner with no costed location has no figures, not zeros; one with some has partial figures.
    assert costs.loc["b", "uncosted_lines"] == 1 and not costs.loc["b", "partial"]
    assert costs.loc["b", ["holding", "shipping", "stockout", "total", "every_agreed_day"]].isna().all()
    assert costs.loc["c", "partial"] and not costs.loc["a", "partial"]
    c = plan[plan["location_id"] == "T1"]
    assert costs.loc["c", "total"] == pytest.approx(c["location_cost_per_day"].iloc[0])
    assert (costs.loc["c", "costed_locations"], costs.loc["c", "locations"]) == (1, 2)
    assert plan_costs(plan.drop(columns=["location_cost_per_day"])).empty


def test_the_index_shows_each_partners_plan_cost_formatted(tmp_path):
    plan = costed_plan()
    index = render_report(inputs(plan=plan, explanations=pd.DataFrame()), tmp_path).read_text(encoding="utf-8")
    costs = plan_costs(plan).set_index("partner_id")
    section = index[index.index('id="plan-cost"') :]
    row = section[section.index('id="plan-cost-a"') : section.index("</tr>", section.index('id="plan-cost-a"'))]
    for figure in ("holding", "shipping", "stockout", "total", "every_agreed_day"):
        assert f">{costs.loc['a', figure]:,.2f}<" in row.replace("<strong>", "").replace("</strong>", "")
    assert ">714.29<" in row and "2 of 2" in row
    assert "1 line(s) of Beta Grocers have no cost terms" in section and "partial" not in row
    row_b = section[section.index('id="plan-cost-b"') : section.index("</tr>", section.index('id="plan-cost-b"'))]
    assert ">–<" in row_b and "0.00" not in row_b
    row_c = section[section.index('id="plan-cost-c"') : section.index("</tr>", section.index('id="plan-cost-c"'))]
    assert "partial: 1 of 2 locations costed" in row_c
    assert "partial: 1 of 2 locations costed" in (tmp_path / "partners" / "c.html").read_text(encoding="utf-8")
    partner_page = (tmp_path / "partners" / "a.html").read_text(encoding="utf-8")
    assert f">{costs.loc['a', 'total']:,.2f}<" in partner_page


def _value_added_week(week_start: str, sold: float, errors: dict[str, float], complete: bool = True) -> dict:
    row = {"partner_id": "a", "week_start": pd.Timestamp(week_start), "actual_units": sold}
    row["iso_week"] = row["week_start"].strftime("%G-W%V")
    row["is_complete_week"] = complete
    for source, error in errors.items():
        row[f"{source}_abs_error"] = error
        row[f"{source}_wape"] = error / sold
        row[f"{source}_bias"] = -error / sold
    return row


def test_partner_page_says_whose_forecast_adds_value(tmp_path):
    weeks = pd.DataFrame(
        [
            _value_added_week(
                "2025-06-16", 1000.0, {"naive": 400, "statistical": 300, "partner": 200, "combined": 150}
            ),
            _value_added_week(
                "2025-06-23", 1000.0, {"naive": 400, "statistical": 300, "partner": 260, "combined": 250}
            ),
            _value_added_week("2025-06-30", 10.0, {"naive": 9, "statistical": 1, "partner": 5, "combined": 5}, False),
        ]
    )
    render_report(inputs(value_added=weeks), tmp_path)
    page = html.unescape((tmp_path / "partners" / "a.html").read_text())
    # Pooled over the two complete weeks: partner 23 %, ours 30 %, naive 40 %, the plan's 20 %.
    assert (
        "Over the last 2 weeks (2,000 units sold): the partner's forecast adds value: it erred 7.0 points less "
        "than ours. WAPE partner 23.0 %, ours 30.0 %, naive 40.0 %; combining them erred 3.0 points less than the "
        "better one alone (20.0 %)." in page
    )
    assert "2025-W27" in page and "10.0 % <small>bias −10.0 %</small>" in page
    assert "No week scored yet" in (tmp_path / "partners" / "b.html").read_text()


def test_item_pages_go_to_the_most_severe_lines_first_up_to_the_cap():
    lines = pd.DataFrame(
        {
            "partner_id": "a",
            "location_id": ["L1", "L2", "L3", "L4", "L5"],
            "product_id": "P1",
            "ship_qty": [0.0, 50.0, 10.0, 90.0, 20.0],
            "days_of_cover": [1.0, 9.0, 2.0, 30.0, 5.0],
        }
    )
    flagged = pd.DataFrame(
        {
            "partner_id": "a",
            "location_id": ["L2", "L1", "L3", "L3"],
            "product_id": "P1",
            "severity": ["warning", "critical", "info", "critical"],
        }
    )
    chosen = select_item_pages(lines, flagged, cap=3)
    # Critical first (L3 needs more than L1), then the warning; L4 needs most units but has no exception.
    assert list(chosen.keys["location_id"]) == ["L3", "L1", "L2"]
    assert (chosen.lines, chosen.with_exception) == (5, 3)
    assert "3 of the night's 5 plan lines have an item page" in chosen.sentence()
    assert "The other 2 are rows on their partner's page" in chosen.sentence()
    # Without exceptions the lines needing most units come first.
    assert list(select_item_pages(lines, pd.DataFrame(), cap=2).keys["location_id"]) == ["L4", "L2"]
    assert select_item_pages(lines, flagged).sentence() == "Every one of the night's 5 plan lines has an item page."


def test_lines_over_the_cap_have_no_page_but_stay_rows_of_their_partner(tmp_path, monkeypatch):
    monkeypatch.setattr(selection, "ITEM_PAGE_CAP", 2)
    index = render_report(inputs(), tmp_path).read_text()
    assert sorted(path.name for path in (tmp_path / "items").iterdir()) == ["a__L1__P1.html", "b__S1__P2.html"]
    assert "2 of the night&#39;s 3 plan lines have an item page" in index
    alpha = (tmp_path / "partners" / "a.html").read_text()
    assert 'href="../items/a__L1__P1.html"' in alpha and "a__L2__P1" not in alpha
    assert "L2 Bremen" in alpha


def test_item_history_is_read_only_for_the_lines_with_a_page(monkeypatch):
    monkeypatch.setattr(selection, "ITEM_PAGE_CAP", 1)
    conn = duckdb.connect()
    for schema in ("replenishment", "forecasts", "marts"):
        conn.execute(f"create schema {schema}")
    conn.register("rows", plan().assign(plan_date=DAY, version=1, plan_fingerprint="x"))
    conn.execute("create table replenishment.plan_history as select * from rows")
    conn.execute(
        """create table replenishment.exceptions as
           select 'b' as partner_id, 'S1' as location_id, 'P2' as product_id, ?::date as plan_date,
                  'stockout_within_lead_time' as exception_type, 'critical' as severity, 'x' as detail""",
        [DAY],
    )
    conn.execute(
        """create table forecasts.forecast_history as
           select partner_id, location_id, product_id, ?::date as as_of_date, ?::date + 1 as forecast_date,
                  1.0 as p50, 2.0 as p90, 'm' as model, 'smooth' as demand_class from rows""",
        [DAY, DAY],
    )
    read = read_report_inputs(conn, DAY, "run-1")
    assert len(read.plan) == 3
    assert read.forecast[["partner_id", "location_id", "product_id"]].values.tolist() == [["b", "S1", "P2"]]
    assert read.sales_history.empty


def test_the_index_lists_the_first_act_today_rows_and_points_to_the_partner_pages(tmp_path, monkeypatch):
    monkeypatch.setattr(render, "ACT_TODAY_ROWS", 2)
    page = render_report(inputs(), tmp_path).read_text()
    assert re.findall(r'<tr class="exception (\w+)"', page) == ["critical", "critical"]
    assert "The first 2 of 5 are shown, most severe first" in html.unescape(page)
    alpha = (tmp_path / "partners" / "a.html").read_text()
    assert len(re.findall(r'<tr class="exception', alpha)) == 3
