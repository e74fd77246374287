"""The nightly run report: one static HTML page per business date for planners and stakeholders.

Pure rendering: frames in, files out. No Dagster and no warehouse access here; `assets/exports.py` reads the tables.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

STATUS_COLOURS = {"pass": "#2e7d32", "warn": "#ef6c00", "held": "#c62828"}


@dataclass
class ReportInputs:
    """What the report shows; every frame may be empty (the page then says so instead of hiding the section)."""

    plan_date: date
    run_id: str
    plan: pd.DataFrame
    gate: pd.DataFrame
    check_failures: pd.DataFrame
    forecast: pd.DataFrame
    sales_history: pd.DataFrame
    exceptions: pd.DataFrame = field(default_factory=pd.DataFrame)
    scorecard: pd.DataFrame = field(default_factory=pd.DataFrame)
    feed_ledger: pd.DataFrame = field(default_factory=pd.DataFrame)
    docs_links: dict[str, Path] = field(default_factory=dict)  # label -> page; only pages that exist are linked


def _table(frame: pd.DataFrame, empty_note: str, max_rows: int = 25) -> str:
    if frame.empty:
        return f'<p class="empty">{html.escape(empty_note)}</p>'
    shown = frame.head(max_rows)
    more = f'<p class="more">{len(frame) - max_rows:,} more rows in the warehouse.</p>' if len(frame) > max_rows else ""
    return shown.to_html(index=False, classes="grid", border=0, float_format=lambda v: f"{v:,.1f}", na_rep="") + more


def plan_summary(plan: pd.DataFrame) -> pd.DataFrame:
    """Per partner: rows planned, lines and units to ship, and how many rows are below their reorder point."""
    if plan.empty:
        return pd.DataFrame(columns=["partner_id", "locations", "rows", "lines_to_ship", "units_to_ship"])
    # What ships: the allocation where our own stock was short, the policy's quantity otherwise.
    shipped = plan["allocated_qty"].fillna(plan["ship_qty"]) if "allocated_qty" in plan else plan["ship_qty"]
    shipping = shipped > 0
    return (
        plan.assign(shipping=shipping, units=shipped.where(shipping, 0.0))
        .groupby("partner_id", as_index=False)
        .agg(
            locations=("location_id", "nunique"),
            rows=("product_id", "size"),
            lines_to_ship=("shipping", "sum"),
            units_to_ship=("units", "sum"),
        )
    )


def _ship_plot(summary: pd.DataFrame, path: Path) -> None:
    figure = Figure(figsize=(6, 2.8))
    axis = figure.subplots()
    axis.bar(summary["partner_id"], summary["units_to_ship"], color="#1f77b4")
    axis.set_ylabel("units to ship")
    axis.set_title("Units to ship per partner")
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def _forecast_plot(history: pd.DataFrame, forecast: pd.DataFrame, path: Path) -> str:
    """Forecast against recent actuals for the partner series with the most volume; returns its label."""
    totals = history.groupby(["partner_id", "location_id", "product_id"])["units_sold"].sum()
    partner, location, product = totals.idxmax()
    label = f"{partner} / {location} / {product}"
    past = history[
        (history["partner_id"] == partner) & (history["location_id"] == location) & (history["product_id"] == product)
    ].tail(90)
    future = forecast[
        (forecast["partner_id"] == partner)
        & (forecast["location_id"] == location)
        & (forecast["product_id"] == product)
    ]
    figure = Figure(figsize=(8, 3))
    axis = figure.subplots()
    axis.plot(past["sales_date"], past["units_sold"], color="#444", linewidth=1, label="units sold")
    axis.plot(future["forecast_date"], future["p50"], color="#1f77b4", label="forecast p50")
    axis.fill_between(
        future["forecast_date"], future["p50"], future["p90"], color="#1f77b4", alpha=0.25, label="p50–p90"
    )
    axis.set_title(f"Forecast vs actual: {label}")
    axis.legend(loc="upper left", fontsize=8)
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    return label


def _gate_badges(gate: pd.DataFrame) -> str:
    if gate.empty:
        return '<p class="empty">No data gate results for this date.</p>'
    badges = []
    for row in gate.itertuples(index=False):
        colour = STATUS_COLOURS.get(row.status, "#555")
        reasons = html.escape(row.reasons if isinstance(row.reasons, str) and row.reasons else "all rules passed")
        badges.append(
            f'<div class="badge" style="border-color:{colour}"><b>{html.escape(row.partner_id)}</b> '
            f'<span style="color:{colour}">{html.escape(row.status)}</span><br><small>{reasons}</small></div>'
        )
    return '<div class="badges">' + "".join(badges) + "</div>"


CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1200px; }
h1 { margin-bottom: 0; } .sub { color: #666; margin-top: 0.2em; }
table.grid { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1em; }
table.grid th, table.grid td { padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; }
table.grid th { background: #f3f3f3; }
.badges { display: flex; gap: 1em; flex-wrap: wrap; }
.badge { border: 2px solid; border-radius: 6px; padding: 6px 10px; }
.empty { color: #777; font-style: italic; } .more { color: #777; font-size: 0.8em; }
img { max-width: 100%; border: 1px solid #eee; }
"""


def render_report(inputs: ReportInputs, out_dir: Path) -> Path:
    """Write `index.html` and its plots into `out_dir`; returns the page's path. Same inputs, same page."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = plan_summary(inputs.plan)
    sections: list[str] = []

    sections.append("<h2>Data gate per partner</h2>" + _gate_badges(inputs.gate))

    plots = []
    if not summary.empty and summary["units_to_ship"].sum() > 0:
        _ship_plot(summary, out_dir / "units_to_ship.png")
        plots.append('<img id="plot-units-to-ship" src="units_to_ship.png" alt="Units to ship per partner">')
    sections.append(
        "<h2>Replenishment plan</h2>"
        + _table(summary, "No plan rows for this date.")
        + "".join(plots)
        + "<h3>Lines to ship</h3>"
        + _table(
            inputs.plan[inputs.plan["ship_qty"] > 0].sort_values("ship_qty", ascending=False)
            if not inputs.plan.empty
            else inputs.plan,
            "Nothing to ship today: every position is above its reorder point.",
        )
    )
    sections.append("<h2>Exceptions</h2>" + _table(inputs.exceptions, "No exceptions recorded for this date."))

    if not inputs.forecast.empty and not inputs.sales_history.empty:
        label = _forecast_plot(inputs.sales_history, inputs.forecast, out_dir / "forecast_vs_actual.png")
        sections.append(
            "<h2>Forecast</h2>"
            f'<img id="plot-forecast" src="forecast_vs_actual.png" alt="Forecast vs actual for {html.escape(label)}">'
        )
    else:
        sections.append('<h2>Forecast</h2><p class="empty">No forecast for this date.</p>')

    sections.append("<h2>Failed quality checks</h2>" + _table(inputs.check_failures, "Every quality rule passed."))
    sections.append("<h2>Partner scorecards</h2>" + _table(inputs.scorecard, "No scorecard rows yet."))
    sections.append("<h2>Partner files not loaded</h2>" + _table(inputs.feed_ledger, "Every delivered file loaded."))
    # Relative links, so the report and the docs move together as one data folder.
    links = [
        f'<li><a href="{html.escape(os.path.relpath(path, out_dir))}">{html.escape(label)}</a></li>'
        for label, path in inputs.docs_links.items()
        if path.exists()
    ]
    if links:
        sections.append(f'<h2>Documentation</h2><ul id="docs-links">{"".join(links)}</ul>')

    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CMI nightly report {inputs.plan_date}</title>
<style>{CSS}</style></head>
<body>
<h1>CMI nightly report — {inputs.plan_date}</h1>
<p class="sub">Run {html.escape(inputs.run_id)}</p>
{"".join(f"<section>{section}</section>" for section in sections)}
</body></html>
"""
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
