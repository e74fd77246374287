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


# A check's result page lists partners one line each up to this many; a supplier with more reads the rest in the
# failures table and the quality docs.
PARTNER_LINES_SHOWN = 25


def partner_check_lines(rows: list[dict]) -> dict[str, str]:
    """One plain line per partner for a quality check's result page: passed, or held / warned with the first
    failed rule in words (``quality_sentence``) and how many more failed.

    ``rows`` are the check's outcomes (``partner_id``, ``passed``, ``severity`` and the rule's fields), one per
    rule and partner. Keys are ``partner <id>``, sorted; past ``PARTNER_LINES_SHOWN`` partners one more key says
    how many were left out.
    """
    from assets.renderers.report.views import quality_sentence

    by_partner: dict[str, list[dict]] = {}
    for row in rows:
        by_partner.setdefault(str(row["partner_id"]), []).append(row)
    lines = {}
    for partner in sorted(by_partner)[:PARTNER_LINES_SHOWN]:
        rules = by_partner[partner]
        failed = [row for row in rules if not row["passed"]]
        if not failed:
            lines[f"partner {partner}"] = f"passed all {len(rules)} rules"
            continue
        blocking = [row for row in failed if row["severity"] in ("critical", "error")]
        more = f" (and {len(failed) - 1} more failed rule{'s' if len(failed) > 2 else ''})" if len(failed) > 1 else ""
        verdict = "held" if blocking else "warned"
        lines[f"partner {partner}"] = f"{verdict}: {quality_sentence((blocking or failed)[0])}{more}"
    if len(by_partner) > PARTNER_LINES_SHOWN:
        lines["partners not listed"] = f"{len(by_partner) - PARTNER_LINES_SHOWN} more partners checked"
    return lines
