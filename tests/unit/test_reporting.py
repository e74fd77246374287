from datetime import date

import pandas as pd

from assets.renderers.report import ReportInputs, plan_summary, render_report

DAY = date(2025, 6, 30)


def plan() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "partner_id": ["a", "a", "b"],
            "location_id": ["L1", "L2", "S1"],
            "product_id": ["P1", "P1", "P2"],
            "ship_qty": [24.0, 0.0, 12.0],
            "reason_code": ["below_reorder_point", "no_action", "below_reorder_point"],
        }
    )


def inputs(**overrides) -> ReportInputs:
    days = pd.date_range("2025-04-01", DAY)
    history = pd.DataFrame(
        {
            "partner_id": "a",
            "location_id": "L1",
            "product_id": "P1",
            "sales_date": days,
            "units_sold": [float(i % 7) for i in range(len(days))],
        }
    )
    forecast = pd.DataFrame(
        {
            "partner_id": "a",
            "location_id": "L1",
            "product_id": "P1",
            "forecast_date": pd.date_range("2025-07-01", periods=28),
            "p50": 3.0,
            "p90": 5.0,
        }
    )
    gate = pd.DataFrame({"partner_id": ["a", "b"], "status": ["pass", "held"], "reasons": [None, "negative stock"]})
    values = dict(
        plan_date=DAY,
        run_id="run-1",
        plan=plan(),
        gate=gate,
        check_failures=pd.DataFrame(),
        forecast=forecast,
        sales_history=history,
    )
    values.update(overrides)
    return ReportInputs(**values)


def test_plan_summary_counts_lines_and_units_per_partner():
    summary = plan_summary(plan()).set_index("partner_id")
    assert summary.loc["a", "lines_to_ship"] == 1
    assert summary.loc["a", "units_to_ship"] == 24.0
    assert summary.loc["b", "rows"] == 1


def test_report_has_every_section_and_its_plots(tmp_path):
    page = render_report(inputs(), tmp_path)
    text = page.read_text()
    for heading in (
        "Data gate per partner",
        "Replenishment plan",
        "Exceptions",
        "Forecast",
        "Failed quality checks",
        "Partner scorecards",
    ):
        assert f"<h2>{heading}</h2>" in text
    assert "held" in text and "negative stock" in text
    for image in ("units_to_ship.png", "forecast_vs_actual.png"):
        assert f'src="{image}"' in text
        assert (tmp_path / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_empty_sections_say_so_instead_of_disappearing(tmp_path):
    text = render_report(inputs(plan=plan().iloc[0:0], forecast=pd.DataFrame()), tmp_path).read_text()
    assert "No plan rows for this date." in text
    assert "No forecast for this date." in text
    assert "Every quality rule passed." in text


def test_units_to_ship_count_the_allocation_when_our_stock_was_short():
    short = plan().assign(allocated_qty=[12.0, 0.0, 12.0])
    summary = plan_summary(short).set_index("partner_id")
    assert summary.loc["a", "units_to_ship"] == 12.0


def test_docs_are_linked_relative_to_the_report_only_when_built(tmp_path):
    gx_index = tmp_path / "quality_docs" / "2025-06-30" / "index.html"
    gx_index.parent.mkdir(parents=True)
    gx_index.write_text("<html></html>")
    inputs = ReportInputs(
        plan_date=date(2025, 6, 30),
        run_id="r",
        plan=pd.DataFrame(),
        gate=pd.DataFrame(),
        check_failures=pd.DataFrame(),
        forecast=pd.DataFrame(),
        sales_history=pd.DataFrame(),
        docs_links={"GX": gx_index, "dbt": tmp_path / "dbt_docs" / "static_index.html"},
    )
    page = render_report(inputs, tmp_path / "reports" / "2025-06-30").read_text()
    assert '<a href="../../quality_docs/2025-06-30/index.html">GX</a>' in page
    assert "dbt_docs" not in page
