"""Plots attached to materializations: a forecast against its history, and projected stock with and without a
shipment. Pure rendering: frames in, markdown with an embedded PNG out."""

import pandas as pd
from matplotlib.figure import Figure

from assets.renderers.metadata import png_markdown
from forecasts.forecasting.forecast_history import SERIES_SEPARATOR


def forecast_plot(history: pd.DataFrame, forecast: pd.DataFrame, series_id: str) -> str:
    """The last 120 days of one series' sales and its forecast (p50 with the p50-p90 band)."""
    past = history[history["series_id"] == series_id].tail(120)
    future = forecast[forecast["series_id"] == series_id]
    figure = Figure(figsize=(8, 3))
    axis = figure.subplots()
    axis.plot(past["date"], past["qty"], color="#444", linewidth=1, label="units sold")
    axis.plot(future["date"], future["p50"], color="#1f77b4", label="forecast p50")
    axis.fill_between(future["date"], future["p50"], future["p90"], color="#1f77b4", alpha=0.25, label="p50-p90")
    axis.set_title(series_id.replace(SERIES_SEPARATOR, " / "))
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
