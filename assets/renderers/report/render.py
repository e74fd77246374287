"""Write the night's report: ``index.html``, one page per partner and one per item, from Jinja2 templates.

Pure: frames in, files out, the same page for the same inputs. Everything is in the folder (inline CSS and SVG,
relative links), so it opens offline from ``file://`` and on a phone.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from datetime import timedelta
from pathlib import Path

import jinja2
import pandas as pd
from markupsafe import Markup

from assets.renderers.report.charts import PALETTE, Chart, Line, render_svg
from assets.renderers.report.inputs import ReportInputs
from assets.renderers.report.selection import select_item_pages
from assets.renderers.report.value_added import value_added_view
from assets.renderers.report.views import (
    KEY,
    WAPE_TARGET,
    Names,
    act_today,
    day,
    headline,
    item_slug,
    partner_ids,
    partner_slug,
    plan_costs,
    plan_summary,
    problem_files,
    quality_sentence,
    scorecard_trend,
    shipping_units,
)
from forecasts.replenishment.explain import REASON_TEXT, money, percent, units
from forecasts.replenishment.projection import project_lines

HISTORY_DAYS = 56
# The index lists this many act-today rows of each kind (urgent, for information); the partner pages list them all.
ACT_TODAY_ROWS = 500
PROJECTION_DAYS = 28
TEMPLATES = Path(__file__).with_name("templates")
# Plan columns the pages show; a plan without some of them shows them empty.
PLAN_COLUMNS_SHOWN = [
    *KEY,
    "on_hand",
    "inventory_position",
    "safety_stock",
    "reorder_point",
    "order_up_to",
    "ship_qty",
    "allocated_qty",
    "ship_date",
    "expected_receipt_date",
    "days_of_cover",
    "projected_stockout_date",
    "demand_daily_mean",
    "reason_code",
]


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(units=units, percent=percent, day=day, money=money)
    return environment


def _rows_of(frame: pd.DataFrame, **match) -> pd.DataFrame:
    if frame.empty or any(column not in frame for column in match):
        return frame.iloc[0:0] if not frame.empty else frame
    mask = pd.Series(True, index=frame.index)
    for column, value in match.items():
        mask &= frame[column] == value
    return frame[mask]


def _sorted(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame.sort_values(column) if column in frame else frame


def _records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts with missing values as None, so a template prints nothing rather than 'nan'."""
    if frame.empty:
        return []
    readable = frame.astype(object)
    return readable.where(readable.notna(), None).to_dict("records")


def _plan_lines(inputs: ReportInputs, names: Names, pages: set[str], partner_id: str) -> list[dict]:
    plan = _rows_of(inputs.plan, partner_id=partner_id)
    if plan.empty:
        return []
    plan = plan.assign(shipping=shipping_units(plan)).sort_values(
        ["shipping", "ship_qty", "location_id", "product_id"], ascending=[False, False, True, True]
    )
    lines = []
    for row in plan.to_dict("records"):
        slug = item_slug(*(row[column] for column in KEY))
        lines.append(
            {
                **row,
                "location_name": names.location(partner_id, row["location_id"]),
                "product_name": names.product(row["product_id"]),
                "reason": str(row.get("reason_code") or "").replace("_", " "),
                "reason_text": REASON_TEXT.get(row.get("reason_code"), ""),
                "page": slug if slug in pages else None,
            }
        )
    return lines


def _trend_chart(trend: pd.DataFrame, partner_id: str | None, chart_id: str) -> Markup:
    if trend.empty:
        return Markup(render_svg(Chart("Units per night"), chart_id))
    lines = []
    if partner_id is None:
        for number, (partner, rows) in enumerate(trend.groupby("partner_id")):
            rows = rows.sort_values("plan_date")
            lines.append(Line(f"{partner} shipping", rows["plan_date"], rows["units_shipping"], PALETTE[number % 6]))
    else:
        rows = trend[trend["partner_id"] == partner_id].sort_values("plan_date")
        lines += [
            Line("needed", rows["plan_date"], rows["units_needed"], PALETTE[1], dashed=True),
            Line("shipping", rows["plan_date"], rows["units_shipping"], PALETTE[0]),
        ]
    return Markup(render_svg(Chart("Units per night", lines), chart_id))


def _accuracy(inputs: ReportInputs, partner_id: str | None) -> tuple[list[dict], Markup]:
    history = inputs.accuracy_history
    if partner_id is not None:
        history = _rows_of(history, partner_id=partner_id)
    if history.empty:
        return [], Markup(render_svg(Chart("Forecast error (WAPE)", percent=True), f"accuracy-{partner_id or 'all'}"))
    history = history.sort_values("as_of_date")
    lines = [
        Line(partner, rows["as_of_date"], rows["wape"], PALETTE[number % 6])
        for number, (partner, rows) in enumerate(history.groupby("partner_id"))
    ]
    chart = Chart("Forecast error (WAPE) by forecast date", lines, levels=[("target", WAPE_TARGET, "#555")])
    chart.percent = True
    latest = history.drop_duplicates("partner_id", keep="last").to_dict("records")
    for row in latest:
        row["met"] = pd.notna(row.get("wape")) and row["wape"] <= WAPE_TARGET
    return latest, Markup(render_svg(chart, f"accuracy-{partner_id or 'all'}"))


def _gate_history(inputs: ReportInputs, partner_id: str) -> list[dict]:
    history = _rows_of(inputs.gate_history, partner_id=partner_id)
    if history.empty:
        return []
    return history.sort_values("as_of_date", ascending=False).head(14).to_dict("records")


def _exports(inputs: ReportInputs, partner_id: str, out_dir: Path, depth: int) -> list[dict]:
    if inputs.exports_dir is None:
        return []
    folder = inputs.exports_dir / partner_id
    found = []
    for suffix in ("csv", "json"):
        path = folder / f"replenishment_plan_{inputs.plan_date.isoformat()}.{suffix}"
        if path.exists():
            found.append({"label": path.name, "href": os.path.relpath(path, out_dir / ("x/" * depth))})
    return found


def _item_view(inputs: ReportInputs, names: Names, line: dict, actions: list[dict]) -> dict:
    """One item page's content; ``actions`` are the item's own act-today rows."""
    key = {column: line[column] for column in KEY}
    sales = _sorted(_rows_of(inputs.sales_history, **key), "sales_date")
    if not sales.empty:
        since = pd.Timestamp(inputs.plan_date - timedelta(days=HISTORY_DAYS))
        sales = sales[pd.to_datetime(sales["sales_date"]) > since]
    forecast = _sorted(_rows_of(inputs.forecast, **key), "forecast_date")
    demand_chart = Chart(
        "Sales and forecast",
        [Line("units sold", sales.get("sales_date", []), sales.get("units_sold", []), "#444")],
    )
    if not forecast.empty:
        demand_chart.lines.append(Line("forecast p50", forecast["forecast_date"], forecast["p50"], PALETTE[0]))
        demand_chart.band = (forecast["forecast_date"], forecast["p50"], forecast["p90"], PALETTE[0])
    stock = _sorted(_rows_of(inputs.inventory_history, **key), "inventory_date")
    line_frame = pd.DataFrame([line])
    demand = forecast if not forecast.empty else pd.DataFrame(columns=[*KEY, "forecast_date", "p50"])
    receipts = inputs.receipts if not inputs.receipts.empty else pd.DataFrame(columns=[*KEY, "receipt_date", "qty"])
    projection = project_lines(line_frame, demand, receipts, inputs.plan_date, horizon=PROJECTION_DAYS)[0]
    stock_chart = Chart(
        "Stock on hand: counted, then projected",
        [
            Line("counted", stock.get("inventory_date", []), stock.get("on_hand_qty", []), "#444", step=True),
            Line("without the shipment", projection["date"], projection["on_hand_without_shipment"], PALETTE[1], True),
            Line("with the shipment", projection["date"], projection["on_hand_with_shipment"], PALETTE[2]),
        ],
        levels=[
            ("reorder point", line.get("reorder_point"), "#9467bd"),
            ("safety stock", line.get("safety_stock"), "#ff7f0e"),
        ],
    )
    steps = _sorted(_rows_of(inputs.explanations, **key), "step_number")
    return {
        "line": line,
        "partner": names.partner(line["partner_id"]),
        "actions": actions,
        "demand_chart": Markup(render_svg(demand_chart, "chart-demand")),
        "stock_chart": Markup(render_svg(stock_chart, "chart-stock")),
        "forecast_model": forecast["model"].iloc[0] if "model" in forecast and not forecast.empty else None,
        "demand_class": forecast["demand_class"].iloc[0] if "demand_class" in forecast and not forecast.empty else None,
        "steps": _records(steps),
    }


def render_report(inputs: ReportInputs, out_dir: Path) -> Path:
    """Write ``index.html``, ``partners/<id>.html`` and ``items/<partner>__<location>__<product>.html`` into
    ``out_dir`` (replacing an earlier report of the night); returns the index page's path."""
    if not inputs.plan.empty:
        missing = [column for column in PLAN_COLUMNS_SHOWN if column not in inputs.plan]
        inputs = dataclasses.replace(inputs, plan=inputs.plan.assign(**dict.fromkeys(missing, float("nan"))))
    out_dir.mkdir(parents=True, exist_ok=True)
    for folder in ("partners", "items"):
        shutil.rmtree(out_dir / folder, ignore_errors=True)
        (out_dir / folder).mkdir()
    environment = _environment()
    names = Names.of(inputs)
    actions = act_today(inputs, names)
    chosen = select_item_pages(inputs.plan, inputs.exceptions)
    pages = chosen.slugs
    actions_of: dict[str, list[dict]] = {}
    for action in actions:
        actions_of.setdefault(action["item_page"], []).append(action)
        if action["item_page"] not in pages:  # a line over the cap: a row of its partner's page, without a link
            action["item_page"] = None
    summary = plan_summary(inputs.plan).set_index("partner_id") if not inputs.plan.empty else pd.DataFrame()
    costs = plan_costs(inputs.plan).set_index("partner_id")
    gate = inputs.gate.set_index("partner_id") if not inputs.gate.empty else pd.DataFrame()
    files = problem_files(inputs)
    common = {"plan_date": inputs.plan_date, "run_id": inputs.run_id}

    partners = []
    for partner_id in partner_ids(inputs):
        failures = _rows_of(inputs.check_failures, partner_id=partner_id).to_dict("records")
        status = gate.loc[partner_id, "status"] if partner_id in gate.index else "unknown"
        own = summary.loc[partner_id].to_dict() if partner_id in summary.index else {}
        accuracy, accuracy_chart = _accuracy(inputs, partner_id)
        view = {
            "partner_id": partner_id,
            "page": partner_slug(partner_id),
            "name": names.partner(partner_id),
            "status": status,
            "summary": own,
            "costs": costs.loc[partner_id].to_dict() if partner_id in costs.index else None,
            "critical": sum(1 for a in actions if a["partner_id"] == partner_id and a["severity"] == "critical"),
            "failures": [
                {"sentence": quality_sentence(f), "severity": f.get("severity")}
                for f in sorted(failures, key=lambda f: (f.get("severity") != "critical", str(f.get("check_name"))))
            ],
            "offending": _records(_rows_of(inputs.offending_rows, partner_id=partner_id)),
            "gate_history": _gate_history(inputs, partner_id),
            "lines": _plan_lines(inputs, names, pages, partner_id),
            "actions": [a for a in actions if a["partner_id"] == partner_id],
            "scorecard": scorecard_trend(inputs.scorecard, partner_id),
            "value_added": value_added_view(inputs.value_added, partner_id),
            "accuracy": accuracy,
            "accuracy_chart": accuracy_chart,
            "trend_chart": _trend_chart(inputs.plan_trend, partner_id, f"trend-{partner_id}"),
            "files": _records(_rows_of(files, partner_id=partner_id)),
            "exports": _exports(inputs, partner_id, out_dir, depth=1),
        }
        partners.append(view)
        page = environment.get_template("partner.html").render(**common, p=view, root="../")
        (out_dir / "partners" / partner_slug(partner_id)).write_text(page, encoding="utf-8")

    lines = inputs.plan.merge(chosen.keys, on=KEY) if pages else pd.DataFrame()
    for line in lines.to_dict("records"):
        slug = line.pop("slug")
        view = _item_view(inputs, names, line, actions_of.get(slug, []))
        view["location_name"] = names.location(line["partner_id"], line["location_id"])
        view["product_name"] = names.product(line["product_id"])
        view["partner_page"] = partner_slug(line["partner_id"])
        page = environment.get_template("item.html").render(**common, i=view, root="../")
        (out_dir / "items" / slug).write_text(page, encoding="utf-8")

    accuracy, accuracy_chart = _accuracy(inputs, None)
    docs = [
        {"label": label, "href": os.path.relpath(path, out_dir)}
        for label, path in inputs.docs_links.items()
        if path.exists()
    ]
    index = environment.get_template("index.html").render(
        **common,
        root="",
        head=headline(inputs, actions),
        actions=actions,
        shown=ACT_TODAY_ROWS,
        partners=partners,
        item_pages=chosen.sentence(),
        files=_records(files),
        trend_chart=_trend_chart(inputs.plan_trend, None, "trend-all"),
        accuracy=accuracy,
        accuracy_chart=accuracy_chart,
        docs=docs,
        nights=inputs.plan_trend["plan_date"].nunique() if not inputs.plan_trend.empty else 0,
    )
    path = out_dir / "index.html"
    path.write_text(index, encoding="utf-8")
    return path
