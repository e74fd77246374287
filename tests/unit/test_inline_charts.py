"""The small charts a materialization carries for the Dagster asset page: SVG images short enough to show in place."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from types import SimpleNamespace
from urllib.parse import unquote

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from assets.renderers.plots import (
    INLINE_MARKDOWN_LIMIT,
    Trace,
    forecast_chart,
    inline_chart,
    inventory_projection_chart,
)
from forecasts.forecasting.forecast_history import SERIES_SEPARATOR

SVG = "{http://www.w3.org/2000/svg}"
IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\(data:image/svg\+xml,(?P<svg>[^()\s]+)\)")


def svg_of(markdown: str) -> ET.Element:
    """The chart's SVG, as a browser would read the markdown image's data URI."""
    match = IMAGE.fullmatch(markdown)
    assert match, markdown[:120]
    return ET.fromstring(unquote(match.group("svg")))


def polylines(svg: ET.Element) -> list[list[tuple[float, float]]]:
    lines = []
    for element in svg.iter(f"{SVG}polyline"):
        numbers = [float(value) for value in element.get("points").split(",")]
        lines.append(list(zip(numbers[::2], numbers[1::2], strict=True)))
    return lines


def test_a_forecast_chart_shows_sales_then_p90_and_p50_from_the_last_day_sold():
    series = SERIES_SEPARATOR.join(["hansa_handel", "S1", "P1001"])
    history = pd.DataFrame(
        {"series_id": series, "date": pd.date_range("2025-01-01", periods=200), "qty": np.arange(200) % 9.0}
    )
    forecast = pd.DataFrame(
        {"series_id": series, "date": pd.date_range("2025-07-20", periods=28), "p50": 4.0, "p90": 7.0}
    )
    markdown = forecast_chart(history, forecast, series)
    assert len(markdown) < INLINE_MARKDOWN_LIMIT
    assert IMAGE.fullmatch(markdown).group("alt").startswith("hansa_handel / S1 / P1001")
    sold, p90, p50 = polylines(svg_of(markdown))
    assert sold[-1] == p90[0] == p50[0], "the forecast goes on from the last day of sales"
    assert len(p50) == len(p90) == 29
    assert all(y90 <= y50 for (_, y90), (_, y50) in zip(p90[1:], p50[1:], strict=True)), "p90 drawn above p50"


def test_a_projection_chart_draws_both_projections_between_its_levels():
    line = SimpleNamespace(
        partner_id="p1", location_id="s1", product_id="A", on_hand=20.0, reorder_point=12.0, safety_stock=4.0
    )
    projection = pd.DataFrame(
        {"on_hand_without_shipment": np.maximum(20 - 2 * np.arange(1, 29), 0.0), "on_hand_with_shipment": 15.0}
    )
    svg = svg_of(inventory_projection_chart(line, projection))
    reorder, safety, without, with_shipment = polylines(svg)
    assert len(reorder) == len(safety) == 2 and reorder[0][1] < safety[0][1], "reorder point above safety stock"
    assert len(without) == len(with_shipment) == 29
    assert float(svg.get("width")) >= 300, "a short chart is drawn as wide as a long one"


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.floats(0, 1e9)), min_size=0, max_size=400),
    st.text(min_size=0, max_size=80),
)
def test_any_chart_fits_the_inline_limit_and_stays_one_image(values, alt):
    markdown = inline_chart(alt, [Trace(values, "#1f77b4"), Trace(values[::-1], "#d62728", start=3, dashed=True)])
    assert len(markdown) < INLINE_MARKDOWN_LIMIT
    assert "\n" not in markdown
    svg_of(markdown)
