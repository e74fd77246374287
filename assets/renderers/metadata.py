"""Small helpers that turn frames into the metadata Dagster shows next to a materialization."""

from __future__ import annotations

import base64
import io

import pandas as pd

from assets.renderers.report.views import quality_sentence


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


def partner_delivery_lines(ledger: pd.DataFrame, problems: pd.DataFrame) -> dict[str, str]:
    """One plain line per partner for the feeds' result page: files by outcome, rows loaded and rejected, and
    the newest file that did not load with its reason.

    ``ledger``: ``partner_id, status, files, rows_parsed, rows_rejected`` (one row per partner and status);
    ``problems``: ``partner_id, path, status, reason`` of files not loaded, newest first. Keys are
    ``partner <id>``, sorted, up to ``PARTNER_LINES_SHOWN``.
    """
    lines = {}
    partners = sorted(ledger["partner_id"].dropna().astype(str).unique()) if not ledger.empty else []
    for partner in partners[:PARTNER_LINES_SHOWN]:
        rows = ledger[ledger["partner_id"].astype(str) == partner]
        files = dict(zip(rows["status"], rows["files"].astype(int), strict=True))
        loaded = rows[rows["status"] == "loaded"]
        parts = [f"{files.pop('loaded', 0):,} files loaded"]
        if not loaded.empty:
            parsed, rejected = int(loaded["rows_parsed"].fillna(0).sum()), int(loaded["rows_rejected"].fillna(0).sum())
            parts[0] += f" ({parsed:,} rows, {rejected:,} rejected)"
        parts += [f"{count:,} {_status_words(status, count)}" for status, count in sorted(files.items())]
        line = ", ".join(parts)
        mine = problems[problems["partner_id"].astype(str) == partner] if not problems.empty else problems
        if not mine.empty:
            newest = mine.iloc[0]
            line += f"; newest not loaded: {newest['path']} ({newest['status'].replace('_', ' ')}: {newest['reason']})"
        lines[f"partner {partner}"] = line
    if len(partners) > PARTNER_LINES_SHOWN:
        lines["partners not listed"] = f"{len(partners) - PARTNER_LINES_SHOWN} more partners delivered"
    return lines


def _status_words(status: str, count: int) -> str:
    """A ledger status after a count of files: ``2 duplicates``, ``1 quarantined``, ``3 no usable rows``."""
    return "duplicates" if status == "duplicate" and count != 1 else status.replace("_", " ")
