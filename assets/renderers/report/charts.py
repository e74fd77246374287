"""Small inline SVG line charts: crisp on a phone, no image files, no script, no external assets."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import pandas as pd

WIDTH, HEIGHT = 640, 230
LEFT, RIGHT, TOP, BOTTOM = 46, 12, 26, 24
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


@dataclass
class Line:
    label: str
    x: Sequence[date]
    y: Sequence[float]
    color: str = PALETTE[0]
    dashed: bool = False
    step: bool = False


@dataclass
class Chart:
    """Lines over dates, an optional shaded band (e.g. p50–p90) and labelled horizontal levels."""

    title: str
    lines: list[Line] = field(default_factory=list)
    band: tuple[Sequence[date], Sequence[float], Sequence[float], str] | None = None
    levels: list[tuple[str, float, str]] = field(default_factory=list)
    unit: str = "units"
    percent: bool = False


def _dates(values: Sequence) -> list[pd.Timestamp]:
    return [pd.Timestamp(value) for value in values]


def render_svg(chart: Chart, chart_id: str) -> str:
    """The chart as an inline ``<svg>`` scaled to its container; an empty chart says so in words."""
    xs = [x for line in chart.lines for x in _dates(line.x)] + (_dates(chart.band[0]) if chart.band else [])
    ys = [float(y) for line in chart.lines for y in line.y if pd.notna(y)]
    ys += [float(y) for y in chart.band[2] if pd.notna(y)] if chart.band else []
    ys += [level for _, level, _ in chart.levels if pd.notna(level)]
    title = html.escape(chart.title)
    if not xs or not ys:
        return f'<p class="empty" id="{chart_id}">{title}: no data yet.</p>'
    x0, x1 = min(xs), max(xs)
    span = max((x1 - x0).total_seconds(), 86400.0)
    top = max(ys) * 1.1 or 1.0
    bottom = min(0.0, min(ys))
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: pd.Timestamp) -> float:
        return LEFT + inner_w * ((x - x0).total_seconds() / span if x1 > x0 else 0.5)

    def py(y: float) -> float:
        return TOP + inner_h * (1 - (y - bottom) / (top - bottom))

    def label(value: float) -> str:
        return f"{100 * value:.0f}%" if chart.percent else f"{value:,.0f}"

    parts = [
        f'<svg id="{chart_id}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}">',
        f'<text x="{LEFT}" y="14" class="chart-title">{title}</text>',
    ]
    for fraction in (0, 0.5, 1):
        value = bottom + (top - bottom) * fraction
        y = py(value)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" class="tick">{label(value)}</text>')
    for x, anchor in ((x0, "start"), (x1, "end")):
        parts.append(
            f'<text x="{px(x):.1f}" y="{HEIGHT - 6}" text-anchor="{anchor}" class="tick">{x.date().isoformat()}</text>'
        )
    if chart.band:
        band_x, low, high, colour = chart.band
        upper = [f"{px(x):.1f},{py(float(h)):.1f}" for x, h in zip(_dates(band_x), high, strict=True)]
        lower = [f"{px(x):.1f},{py(float(lo)):.1f}" for x, lo in zip(_dates(band_x), low, strict=True)]
        parts.append(f'<polygon points="{" ".join(upper + lower[::-1])}" fill="{colour}" opacity="0.2"/>')
    for name, value, colour in chart.levels:
        if pd.isna(value):
            continue
        y = py(float(value))
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}" '
            f'stroke-dasharray="2 3"/><text x="{WIDTH - RIGHT}" y="{y - 3:.1f}" text-anchor="end" class="tick" '
            f'fill="{colour}">{html.escape(name)} {label(float(value))}</text>'
        )
    for line in chart.lines:
        points = [(px(x), py(float(y))) for x, y in zip(_dates(line.x), line.y, strict=True) if pd.notna(y)]
        if line.step and points:
            stepped = [points[0]]
            for x, y in points[1:]:
                stepped += [(x, stepped[-1][1]), (x, y)]
            points = stepped
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        text = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{text}" fill="none" stroke="{line.color}" stroke-width="2"{dash}/>')
        if len(points) == 1:
            parts.append(f'<circle cx="{points[0][0]:.1f}" cy="{points[0][1]:.1f}" r="3" fill="{line.color}"/>')
    parts.append("</svg>")
    legend_items = "".join(
        f'<span style="color:{line.color}">{"┅" if line.dashed else "━"} {html.escape(line.label)}</span>'
        for line in chart.lines
    )
    if chart.band:
        legend_items += f'<span style="color:{chart.band[3]}">▇ p50–p90</span>'
    return "".join(parts) + f'<div class="legend">{legend_items}</div>'
