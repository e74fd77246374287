"""Acknowledgments sent back for delivered EDI files: numbered by us, kept in the warehouse, written to the outbox.

Every interchange of a delivered X12 or EDIFACT file is acknowledged (TA1/997/999 or CONTRL, built by
``assets.feeds.acks``), loaded or refused alike. Our own interchange control numbers come from a counter table
(``raw.edi_control_numbers``, one row per standard) so they never repeat across runs, and every acknowledgment is
kept in ``raw.edi_acknowledgments`` keyed by the file's content hash and the interchange's place in it: a
redelivered file (the same bytes, under any name) gets the very same acknowledgment again, not a new one, unless
the stored one is a rejection its content no longer earns (the file ran out of memory while written and now loads):
then it is acknowledged afresh. Files go to ``<outbox>/<partner_id>/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from assets.feeds.acks import acknowledge
from assets.feeds.loading.writer import fetch_all
from assets.feeds.parsers.interchange import INTERCHANGE, Defect, Interchange

ACKNOWLEDGMENTS_TABLE = "raw.edi_acknowledgments"
COUNTER_TABLE = "raw.edi_control_numbers"
# Interchange control numbers are nine digits in X12 (ISA13) and at most fourteen characters in EDIFACT (0020).
MAX_CONTROL = {"x12": 999_999_999, "edifact": 99_999_999_999_999}

DDL = f"""
create schema if not exists raw;
create table if not exists {COUNTER_TABLE} (standard varchar primary key, last_number bigint not null);
create table if not exists {ACKNOWLEDGMENTS_TABLE} (
    source_file_id varchar not null, interchange_index integer not null, partner_id varchar, standard varchar,
    kind varchar, their_control_number varchar, our_control_number bigint, status varchar, file_name varchar,
    created_at timestamp, content varchar
);
"""


@dataclass(frozen=True)
class SentAcknowledgment:
    file_name: str
    kind: str
    status: str
    control_number: int
    reused: bool


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(DDL)


def acknowledge_file(
    conn: duckdb.DuckDBPyConnection,
    outbox: Path,
    partner_id: str,
    source_file_id: str,
    interchanges: list[Interchange],
    *,
    refused: bool,
    now: datetime,
    dated: datetime | None = None,
    rewrite_stored: bool = True,
) -> list[SentAcknowledgment]:
    """Acknowledge each interchange of one file (once: a redelivery rewrites the stored acknowledgment).

    ``dated`` is the date and time the acknowledgment's envelope carries: the moment the file was received, so
    that a rebuild or a backfill of the same deliveries writes the same text; ``now`` (when it was written) is kept
    beside it in the table. ``rewrite_stored`` False: the file is judged again where it lay, not redelivered, so an
    acknowledgment already stored (sent) is not written to the outbox again.

    A file that loads (``refused`` False) whose stored acknowledgment is a rejection its content alone does not
    earn (it was refused for running out of memory while written) is acknowledged afresh, with a new number.
    """
    ensure_tables(conn)
    sent = []
    for interchange in interchanges:
        stored = fetch_all(
            conn,
            f"""select file_name, kind, status, our_control_number, content from {ACKNOWLEDGMENTS_TABLE}
                where source_file_id = ? and interchange_index = ?""",
            [source_file_id, interchange.index],
        )
        if stored and not refused and _rejection_not_earned(stored[0][2], interchange, dated or now):
            fetch_all(
                conn,
                f"delete from {ACKNOWLEDGMENTS_TABLE} where source_file_id = ? and interchange_index = ?",
                [source_file_id, interchange.index],
            )
            stored = []
        if stored:
            file_name, kind, status, number, content = stored[0]
            if rewrite_stored:
                _write(outbox / partner_id / file_name, content)
            sent.append(SentAcknowledgment(file_name, kind, status, number, True))
            continue
        number = _next_control_number(conn, interchange.standard)
        ack = acknowledge(interchange, number, dated or now, refused=refused)
        their = "".join(char if char.isalnum() else "_" for char in interchange.control_number) or "none"
        file_name = f"{ack.kind}_{their}_{number:09d}.{'x12' if interchange.standard == 'x12' else 'edi'}"
        fetch_all(
            conn,
            f"insert into {ACKNOWLEDGMENTS_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                source_file_id,
                interchange.index,
                partner_id,
                interchange.standard,
                ack.kind,
                interchange.control_number,
                number,
                ack.status,
                file_name,
                now,
                ack.text,
            ],
        )
        _write(outbox / partner_id / file_name, ack.text)
        sent.append(SentAcknowledgment(file_name, ack.kind, ack.status, number, False))
    return sent


def acknowledge_reused_control(
    conn: duckdb.DuckDBPyConnection,
    outbox: Path,
    partner_id: str,
    source_file_id: str,
    interchanges: list[Interchange],
    reason: str,
    now: datetime,
    dated: datetime | None = None,
) -> list[SentAcknowledgment]:
    """Reject a file whose interchange control number an earlier file of the partner already used (TA1 025 /
    CONTRL 26, duplicate detected)."""
    first = interchanges[0]
    first.defects.append(
        Defect(INTERCHANGE, first.first_segment, reason, "ISA" if first.standard == "x12" else "UNB", x12_code="025",
               edifact_code="26")
    )  # fmt: skip
    return acknowledge_file(conn, outbox, partner_id, source_file_id, interchanges, refused=True, now=now, dated=dated)


def forget_acknowledgments(conn: duckdb.DuckDBPyConnection, source_file_id: str) -> None:
    """Drop what was stored for this content, so its next acknowledgment is made anew (a new verdict on it)."""
    ensure_tables(conn)
    fetch_all(conn, f"delete from {ACKNOWLEDGMENTS_TABLE} where source_file_id = ?", [source_file_id])


def resend_stored(conn: duckdb.DuckDBPyConnection, outbox: Path, partner_id: str, source_file_id: str) -> int:
    """Write again the acknowledgments already sent for this content (a redelivery); returns how many."""
    ensure_tables(conn)
    stored = fetch_all(
        conn,
        f"select file_name, content from {ACKNOWLEDGMENTS_TABLE} where source_file_id = ? order by interchange_index",
        [source_file_id],
    )
    for file_name, content in stored:
        _write(outbox / partner_id / file_name, content)
    return len(stored)


def _rejection_not_earned(stored_status: str, interchange: Interchange, dated: datetime) -> bool:
    """Whether a stored rejection is one the interchange's content would not get now (it was refused for a reason
    not about its content): the acknowledgment of its content alone is not a rejection."""
    return stored_status == "rejected" and acknowledge(interchange, 0, dated, refused=False).status != "rejected"


def _next_control_number(conn: duckdb.DuckDBPyConnection, standard: str) -> int:
    fetch_all(conn, f"insert into {COUNTER_TABLE} values (?, 0) on conflict do nothing", [standard])
    [(number,)] = fetch_all(
        conn,
        f"update {COUNTER_TABLE} set last_number = last_number % ? + 1 where standard = ? returning last_number",
        [MAX_CONTROL[standard], standard],
    )
    return int(number)


def _write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="latin-1", errors="replace")
