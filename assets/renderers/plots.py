"""Plots attached to materializations: a forecast against its history, and projected stock with and without a
shipment. Pure rendering: frames in, markdown out.

Each plot comes twice. The full plot is an embedded PNG; the Dagster UI shows markdown over a thousand characters
only behind a "[Show Markdown]" button, so an asset page also gets a small chart: an SVG data URI short enough that
the UI draws it inline among the materialization's metadata.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

import pandas as pd
from matplotlib.figure import Figure

from assets.renderers.metadata import png_markdown
from forecasts.forecasting.forecast_history import SERIES_SEPARATOR


def series_label(series_id: str) -> str:
    """``partner / location / product`` for people."""
    return series_id.replace(SERIES_SEPARATOR, " / ")


def forecast_plot(history: pd.DataFrame, forecast: pd.DataFrame, series_id: str) -> str:
    """The last 120 days of one series' sales and its forecast (p50 with the p50-p90 band)."""
    past = history[history["series_id"] == series_id].tail(120)
    future = forecast[forecast["series_id"] == series_id]
    figure = Figure(figsize=(8, 3))
    axis = figure.subplots()
    axis.plot(past["date"], past["qty"], color="#444", linewidth=1, label="units sold")
    axis.plot(future["date"], future["p50"], color="#1f77b4", label="forecast p50")
    axis.fill_between(future["date"], future["p50"], future["p90"], color="#1f77b4", alpha=0.25, label="p50-p90")
    axis.set_title(series_label(series_id))
    axis.legend(loc="upper left", fontsize=8)
    figure.autofmt_xdate()
    return png_markdown(figure)


def inventory_projection_plot(lines: pd.DataFrame, projections: list[pd.DataFrame]) -> str:
    """Projected stock of each line with and without its shipment, against reorder point and safety stock."""
    figure = Figure(figsize=(8, 2.8 * len(lines)))
    axes = figure.subplots(len(lines), 1, squeeze=False)[:, 0]
    for axis, line, projection in zip(axes, lines.itertuples(index=False), projections, strict=True):
        shipped = float(line.allocated_qty)
        # Start from the night's count, so the first day's drop is visible too.
        dates = [pd.Timestamp(line.plan_date), *projection["date"]]
        start = [max(float(line.on_hand), 0.0)]
        axis.plot(
            dates,
            start + projection["on_hand_without_shipment"].tolist(),
            color="#d62728",
            linestyle="--",
            label="on hand without the shipment",
        )
        axis.plot(
            dates,
            start + projection["on_hand_with_shipment"].tolist(),
            color="#1f77b4",
            label=f"on hand with {shipped:g} units shipped",
        )
        axis.axhline(line.reorder_point, color="#ff7f0e", linestyle=":", label="reorder point")
        axis.axhline(line.safety_stock, color="#7f7f7f", linestyle=":", label="safety stock")
        if shipped > 0 and not pd.isna(line.expected_receipt_date):
            axis.axvline(line.expected_receipt_date, color="#1f77b4", alpha=0.3, linewidth=6)
        title = f"{line.partner_id} / {line.location_id} / {line.product_id}"
        if shipped > 0:
            title += f": ships {pd.Timestamp(line.ship_date):%Y-%m-%d}, arrives {line.expected_receipt_date:%Y-%m-%d}"
        axis.set_title(title, fontsize=9)
        axis.set_ylabel("units")
        axis.set_ylim(bottom=0)
        axis.legend(loc="upper right", fontsize=7)
    figure.autofmt_xdate()
    return png_markdown(figure)


# The Dagster UI renders a markdown metadata value in place only below this many characters (its MetadataEntry
# component's threshold); longer ones hide behind "[Show Markdown]".
INLINE_MARKDOWN_LIMIT = 1000
# Drawing units of the inline chart's height; a day is one unit wide (more for a chart of fewer than WIDE_DAYS
# days), and the image is drawn SCALE times larger.
CHART_HEIGHT = 24
WIDE_DAYS = 60
SCALE = 6
# Characters left as they are in the data URI: all legal there, and none that ends a markdown link.
SVG_URI_SAFE = "/:=',.-"


@dataclass(frozen=True)
class Trace:
    """One line of an inline chart: a value per day (None or NaN where there is none), drawn from day ``start``."""

    values: Sequence[float | None]
    color: str
    start: int = 0
    dashed: bool = False


def inline_chart(
    alt: str,
    traces: Sequence[Trace],
    levels: Sequence[tuple[float, str]] = (),
    limit: int = INLINE_MARKDOWN_LIMIT,
) -> str:
    """Markdown of a small line chart as an SVG data URI, under ``limit`` characters so the UI shows it in place.

    ``levels`` are horizontal lines (value, colour) across the whole chart. Only shapes, no text (text would cost
    the characters the lines need): what each colour means belongs in the alt text and in a metadata entry beside
    it. Days are dropped from the start of the chart, a tenth at a time, until the markdown fits.
    """
    alt = " ".join(alt.split()).replace("[", "(").replace("]", ")")
    traces = [trace for trace in traces if any(_present(value) for value in trace.values)]
    levels = [(value, color) for value, color in levels if _present(value)]
    while True:
        markdown = f"![{alt}](data:image/svg+xml,{quote(_svg(traces, levels), safe=SVG_URI_SAFE)})"
        days = _days(traces)
        if len(markdown) < limit or days <= 2:
            return markdown
        traces = [_drop_first_days(trace, max(1, days // 10)) for trace in traces]


def _present(value: float | None) -> bool:
    return value is not None and not pd.isna(value)


def _days(traces: Sequence[Trace]) -> int:
    return max((trace.start + len(trace.values) for trace in traces), default=0)


def _drop_first_days(trace: Trace, cut: int) -> Trace:
    """The trace with the chart's first ``cut`` days gone: shifted left, and shortened where it started early."""
    if trace.start >= cut:
        return Trace(trace.values, trace.color, trace.start - cut, trace.dashed)
    return Trace(trace.values[cut - trace.start :], trace.color, 0, trace.dashed)


def _svg(traces: Sequence[Trace], levels: Sequence[tuple[float, str]]) -> str:
    days = max(_days(traces), 2)
    # A short chart gets wider days, so every chart is about as wide on the page.
    step = max(1, round(WIDE_DAYS / days))
    width = (days - 1) * step
    drawn = [float(value) for trace in traces for value in trace.values if _present(value)]
    drawn += [float(value) for value, _ in levels]
    bottom = min([0.0, *drawn])
    top = max(drawn, default=bottom)
    if top <= bottom:  # nothing above zero: a flat line at the bottom
        top = bottom + 1.0

    def y(value: float) -> str:
        return f"{(CHART_HEIGHT - 1) * (1 - (value - bottom) / (top - bottom)) + 0.5:.0f}"

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width * SCALE}' height='{CHART_HEIGHT * SCALE}' "
        f"viewBox='0 0 {width} {CHART_HEIGHT}' fill='none' stroke-width='.4'>",
        # A white ground, so the lines read on the UI's dark theme too.
        f"<rect width='{width}' height='{CHART_HEIGHT}' fill='white'/>",
    ]
    for value, color in levels:
        parts.append(f"<polyline stroke='{color}' points='0,{y(value)},{width},{y(value)}'/>")
    for trace in traces:
        points = ",".join(
            f"{(trace.start + day) * step},{y(value)}" for day, value in enumerate(trace.values) if _present(value)
        )
        dash = " stroke-dasharray='1'" if trace.dashed else ""
        parts.append(f"<polyline stroke='{trace.color}'{dash} points='{points}'/>")
    parts.append("</svg>")
    return "".join(parts)


# How many past days of sales the inline forecast chart shows before the forecast.
INLINE_HISTORY_DAYS = 42


def forecast_chart(history: pd.DataFrame, forecast: pd.DataFrame, series_id: str) -> str:
    """The inline chart of one series: six weeks of sales (grey), then the forecast p50 (blue) and p90 (dashed)."""
    past = history[history["series_id"] == series_id].sort_values("date").tail(INLINE_HISTORY_DAYS)
    future = forecast[forecast["series_id"] == series_id].sort_values("date")
    sold = past["qty"].tolist()
    # The forecast lines start at the last day of sales, so the chart reads as one line going on.
    joined = len(sold) - 1 if sold else 0
    last = [sold[-1]] if sold else []
    return inline_chart(
        f"{series_label(series_id)}: sales, forecast p50 and p90",
        [
            Trace(sold, "#555"),
            Trace(last + future["p90"].tolist(), "#1f77b4", start=joined, dashed=True),
            Trace(last + future["p50"].tolist(), "#1f77b4", start=joined),
        ],
    )


def inventory_projection_chart(line, projection: pd.DataFrame) -> str:
    """The inline chart of one plan line: stock on hand with the shipment (blue) and without it (red, dashed),
    against the reorder point (orange) and safety stock (grey)."""
    start = [max(float(line.on_hand), 0.0)]
    return inline_chart(
        f"{line.partner_id} / {line.location_id} / {line.product_id}: projected stock with and without the shipment",
        [
            Trace(start + projection["on_hand_without_shipment"].tolist(), "#d62728", dashed=True),
            Trace(start + projection["on_hand_with_shipment"].tolist(), "#1f77b4"),
        ],
        levels=[(float(line.reorder_point), "orange"), (float(line.safety_stock), "grey")],
    )
