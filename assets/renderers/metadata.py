"""Small helpers that turn frames into the metadata Dagster shows next to a materialization."""

from __future__ import annotations

import base64
import io

import pandas as pd


def markdown_preview(frame: pd.DataFrame, rows: int = 10) -> str:
    """A markdown table of the first rows; an explicit note for an empty frame rather than a blank cell."""
    if frame.empty:
        return "_no rows_"
    return frame.head(rows).to_markdown(index=False)


def png_markdown(figure) -> str:
    """Embed a matplotlib figure as an inline PNG so the Dagster UI renders it next to the materialization."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"![plot](data:image/png;base64,{encoded})"
