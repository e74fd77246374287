"""What the feed ledger records of an EDI file beyond its rows: its quantity account, its ledger status, and
the outcome of each of its interchanges.

A structurally valid EDI file that yields no row to load is not ``loaded``: it is ``no_usable_rows`` with the
reason ("846 QTY qualifiers 34, QH, QB, 87 are not mapped for partner X", "every row rejected ..."), so it is
listed among the files not loaded. Every file's quantity elements are counted: reported, loaded, rejected and
unused, with the unused ones listed by code in ``unused_detail``.

Each interchange of a delivered file gets a row in ``raw.edi_interchanges`` (loaded, partly_loaded or refused,
with the first real defect and its segment, and its quantity counts), so a file whose second interchange is
broken shows as loaded with that interchange refused beside it; and each is acknowledged to the partner.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import duckdb

from assets.feeds.loading.acknowledgments import acknowledge_file, forget_acknowledgments
from assets.feeds.loading.writer import fetch_all
from assets.feeds.parsers.interchange import Interchange
from assets.feeds.parsers.interchange_outcomes import REFUSED, InterchangeOutcome, interchange_outcomes
from assets.feeds.parsers.results import ParsedFile

INTERCHANGES_TABLE = "raw.edi_interchanges"

NO_USABLE_ROWS = "no_usable_rows"


def edi_ledger_fields(parsed: ParsedFile) -> dict:
    """Ledger columns for a parsed file: the account (EDI only) and, when nothing can load, status and reason."""
    account = parsed.account
    if account is None:
        return {}
    fields = {
        "quantities_reported": account.elements,
        "quantities_loaded": account.loaded_elements,
        "quantities_rejected": account.rejected_elements,
        "quantities_unused": account.unused_elements,
        "unused_detail": account.unused_summary(),
    }
    reason = parsed.unusable_reason
    if reason is not None:
        fields |= {"status": NO_USABLE_ROWS, "reason": reason}
    return fields


def record_interchanges(
    conn: duckdb.DuckDBPyConnection, source_file_id: str, partner_id: str, outcomes: list[InterchangeOutcome]
) -> None:
    """Write the outcome of each interchange of a file, replacing what an earlier judgement of it wrote."""
    fetch_all(conn, f"delete from {INTERCHANGES_TABLE} where source_file_id = ?", [source_file_id])
    for item in outcomes:
        fetch_all(
            conn,
            f"insert into {INTERCHANGES_TABLE} values ({', '.join('?' * 17)})",
            [
                source_file_id,
                partner_id,
                item.index,
                item.standard,
                item.control_number,
                item.sender,
                item.receiver,
                item.version,
                item.test,
                item.sets,
                item.sets_rejected,
                item.outcome,
                item.reason,
                item.quantities_reported,
                item.quantities_loaded,
                item.quantities_rejected,
                item.quantities_unused,
            ],
        )


def refused_outcomes(outcomes: list[InterchangeOutcome], reason: str) -> list[InterchangeOutcome]:
    """The outcomes of a file refused after it was read (a reused control number): every interchange refused."""
    return [dataclasses.replace(item, outcome=REFUSED, reason=reason, sets_rejected=item.sets) for item in outcomes]


def settle_interchanges(
    conn: duckdb.DuckDBPyConnection,
    outbox: Path | None,
    partner_id: str,
    source_file_id: str,
    interchanges: list[Interchange],
    outcomes: list[InterchangeOutcome] | None,
    *,
    refused: bool,
    now: datetime,
    dated: datetime | None,
    fresh: bool = False,
) -> None:
    """Record each interchange's outcome (a refused file's from its defects) and acknowledge each (when an
    outbox is given). ``fresh``: the file was quarantined before at this path and is judged anew where it lay, not
    redelivered: a file that now loads is acknowledged anew (what was sent then, a rejection, is not sent again),
    and a refused one gets nothing it was already sent (its stored rejection is not written again)."""
    record_interchanges(conn, source_file_id, partner_id, outcomes or interchange_outcomes(interchanges))
    if outbox is not None:
        if fresh and not refused:
            forget_acknowledgments(conn, source_file_id)
        acknowledge_file(
            conn, outbox, partner_id, source_file_id, interchanges,
            refused=refused, now=now, dated=dated, rewrite_stored=not fresh,
        )  # fmt: skip


def settle_refused(
    conn: duckdb.DuckDBPyConnection,
    outbox: Path | None,
    partner_id: str,
    source_file_id: str,
    parsed: ParsedFile,
    reason: str,
    *,
    now: datetime,
    dated: datetime | None,
    fresh: bool = False,
) -> None:
    """A file refused after it was read and found sound (its rows ran out of memory while written): every
    interchange is recorded refused with ``reason`` and gets a rejecting acknowledgment (997/999 sets and groups
    ``R``, CONTRL messages rejected), as a file refused for its content does. Nothing for a file without any.
    ``fresh`` as for :func:`settle_interchanges`: judged again where it lay, it is not sent its rejection twice."""
    if parsed.interchanges:
        outcomes = refused_outcomes(parsed.outcomes, reason)
        settle_interchanges(
            conn, outbox, partner_id, source_file_id, parsed.interchanges, outcomes,
            refused=True, now=now, dated=dated, fresh=fresh,
        )  # fmt: skip
