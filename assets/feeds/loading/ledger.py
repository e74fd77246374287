"""The feed ledger (``raw.feed_files``): one row per delivered file, and the decisions made from it.

Every delivered file gets exactly one ledger row keyed by the SHA-256 of its bytes. :class:`FeedLedger` is what the
ledger already knows during a run (which content arrived under which path, which EDI control numbers are taken,
which partners have loaded files): the loader asks it whether a file is new, a duplicate, or reuses a control
number. :func:`supersede` decides, inside a loaded file's transaction, which loaded files a later delivery
re-sent entirely; :func:`quarantine_copy` keeps an unusable file for the partner to see.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from assets.feeds.contracts import FEED_LEDGER_COLUMNS, FEED_LEDGER_TABLE, RAW_FEED_TABLES
from assets.feeds.loading.writer import fetch_all
from assets.feeds.parsers.results import ParsedFile

# Ledger statuses of files whose rows are (or were) in the raw tables.
LOADED_STATUSES = ("loaded", "superseded")
LEDGER_BATCH = 200  # ledger rows per insert statement


@dataclass
class FeedLedger:
    """Which (content hash, path) pairs and control numbers the ledger already knows, kept current during the run.

    A duplicate is judged against *loaded* content only (``loaded_by_file_id``): content that was quarantined
    never makes a later delivery of it a duplicate. ``quarantined`` keeps, per (content, path), the rules version
    (partner config and parser code) it was judged under, so the loader tries it again once the rules change.
    """

    paths_by_file_id: dict[str, list[str]]
    control_owners: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (partner, format, n) -> path
    # Partners with a loaded (or superseded) file: only a file of theirs can supersede or be superseded.
    loaded_partners: set[str] = field(default_factory=set)
    loaded_by_file_id: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (partner, first path)
    quarantined: dict[tuple[str, str], str | None] = field(default_factory=dict)  # (id, path) -> rules version
    unwritten: list[dict] = field(default_factory=list)  # rows of files that did not load, not yet inserted

    @classmethod
    def read(cls, conn: duckdb.DuckDBPyConnection) -> FeedLedger:
        rows = fetch_all(
            conn,
            f"""select source_file_id, path, partner_id, format, control_number, status, rules_version
                from {FEED_LEDGER_TABLE} order by loaded_at, path""",
        )
        ledger = cls({})
        for file_id, path, partner_id, file_format, control_number, status, rules_version in rows:
            ledger.add(file_id, path)
            if status in LOADED_STATUSES:
                ledger.claim(partner_id, file_format, control_number, path)
                ledger.note_loaded(file_id, partner_id, path)
            elif status == "quarantined":
                ledger.quarantined[(file_id, path)] = rules_version
        return ledger

    def write_later(self, conn: duckdb.DuckDBPyConnection, row: dict) -> None:
        """Insert the ledger row of a file that did not load with others, :data:`LEDGER_BATCH` rows a statement.

        One insert per file cost a statement and a commit each (10,000 refused files: most of the run). A run
        killed before they are written loses only verdicts the next run reaches again: nothing was loaded.
        """
        self.unwritten.append(row)
        if len(self.unwritten) >= LEDGER_BATCH:
            self.write_pending(conn)

    def write_pending(self, conn: duckdb.DuckDBPyConnection) -> None:
        """Insert the rows :meth:`write_later` holds (before anything else writes the ledger, and at the end)."""
        rows, self.unwritten = self.unwritten, []
        for start in range(0, len(rows), LEDGER_BATCH):
            insert_ledger_rows(conn, rows[start : start + LEDGER_BATCH])

    def claim(self, partner_id: str, file_format: str | None, control_number: str | None, path: str) -> None:
        if control_number:
            self.control_owners.setdefault((partner_id, file_format or "", control_number), path)

    def control_owner(self, partner_id: str, file_format: str, control_number: str | None) -> str | None:
        """The file that already used this control number (same partner and format), if any."""
        if not control_number:
            return None
        return self.control_owners.get((partner_id, file_format, control_number))

    def seen(self, file_id: str, path: str) -> bool:
        return path in self.paths_by_file_id.get(file_id, ())

    def retry_due(self, file_id: str, path: str, rules_version: str) -> bool:
        """Was this delivery quarantined under other rules than today's (a config or parser fix since)?"""
        key = (file_id, path)
        return key in self.quarantined and self.quarantined[key] != rules_version

    def loaded_copy(self, file_id: str) -> tuple[str, str] | None:
        """(partner, path) of the first loaded file with this content, if any."""
        return self.loaded_by_file_id.get(file_id)

    def note_loaded(self, file_id: str, partner_id: str, path: str) -> None:
        self.loaded_by_file_id.setdefault(file_id, (partner_id, path))
        self.loaded_partners.add(partner_id)

    def add(self, file_id: str, path: str) -> None:
        if path not in self.paths_by_file_id.get(file_id, ()):
            self.paths_by_file_id.setdefault(file_id, []).append(path)


def forget_quarantined(conn: duckdb.DuckDBPyConnection, file_id: str, path: str) -> None:
    """Remove a delivery's quarantined ledger row: the same delivery, tried again under new rules, replaces it."""
    fetch_all(
        conn,
        f"delete from {FEED_LEDGER_TABLE} where source_file_id = ? and path = ? and status = 'quarantined'",
        [file_id, path],
    )


def mark_rules_version(conn: duckdb.DuckDBPyConnection, file_id: str, path: str, rules_version: str) -> None:
    """A quarantined delivery tried again gave the same verdict: remember the rules it was judged under."""
    fetch_all(
        conn,
        f"update {FEED_LEDGER_TABLE} set rules_version = ? "
        "where source_file_id = ? and path = ? and status = 'quarantined'",
        [rules_version, file_id, path],
    )


def insert_ledger_rows(conn: duckdb.DuckDBPyConnection, rows: list[dict]) -> None:
    """Write several files' ledger rows in one statement."""
    if not rows:
        return
    columns = ", ".join(FEED_LEDGER_COLUMNS)
    values = ", ".join("(" + ", ".join("?" for _ in FEED_LEDGER_COLUMNS) + ")" for _ in rows)
    parameters = [row.get(column) for row in rows for column in FEED_LEDGER_COLUMNS]
    fetch_all(conn, f"insert into {FEED_LEDGER_TABLE} ({columns}) values {values}", parameters)


def insert_ledger_row(conn: duckdb.DuckDBPyConnection, row: dict) -> None:
    """Write one file's ledger row (``FEED_LEDGER_COLUMNS``; absent keys are null)."""
    columns = ", ".join(FEED_LEDGER_COLUMNS)
    placeholders = ", ".join("?" for _ in FEED_LEDGER_COLUMNS)
    fetch_all(
        conn,
        f"insert into {FEED_LEDGER_TABLE} ({columns}) values ({placeholders})",
        [row.get(column) for column in FEED_LEDGER_COLUMNS],
    )


def quarantine_copy(file: Path, partner_dir: Path, quarantine_dir: Path) -> None:
    """Copy a quarantined file unchanged to ``quarantine_dir/<partner_id>/``, at its path within the partner folder.

    The caller has checked it is a regular file inside the partner folder; a link put in its place since is
    copied as a link, never followed.
    """
    target = quarantine_dir / partner_dir.name / file.relative_to(partner_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        target.unlink()
    shutil.copy2(file, target, follow_symlinks=False)


# Every (record type, location, period) a partner's loaded files report; forecasts add their issue date.
_SUPERSEDE_SQL = f"""
with feed_keys as (
    select source_file_id, 'stock' as record_type, location_id,
           as_of_date as first_day, as_of_date as last_day, date '0001-01-01' as issued
    from {RAW_FEED_TABLES["stock"]} where partner_id = $partner
    union all
    select source_file_id, 'sales', location_id, period_start, period_end, date '0001-01-01'
    from {RAW_FEED_TABLES["sales"]} where partner_id = $partner
    union all
    select source_file_id, 'forecast', location_id, target_period_start, target_period_end, forecast_date
    from {RAW_FEED_TABLES["forecast"]} where partner_id = $partner
),
deliveries as (
    select source_file_id, min(path) as path, min(received_at) as received_at, bool_or(status = 'loaded') as loaded
    from {FEED_LEDGER_TABLE}
    where partner_id = $partner and status in ('loaded', 'superseded')
    group by source_file_id
),
file_keys as (
    select distinct keys.source_file_id, keys.record_type, coalesce(keys.location_id, '') as location_id,
           keys.first_day, keys.last_day, keys.issued, deliveries.received_at, deliveries.path
    from feed_keys as keys
    inner join deliveries using (source_file_id)
),
new_keys as (
    select record_type, location_id, first_day, last_day, issued from file_keys where source_file_id = $file
),
touched as (
    -- The new file and every loaded file that shares a key with it: only these can change status.
    select distinct file_keys.source_file_id
    from file_keys
    semi join new_keys using (record_type, location_id, first_day, last_day, issued)
    semi join deliveries on deliveries.source_file_id = file_keys.source_file_id and deliveries.loaded
),
later_reports as (
    select mine.source_file_id, mine.record_type, mine.location_id, mine.first_day, mine.last_day, mine.issued,
           newer.path as newer_path
    from file_keys as mine
    inner join file_keys as newer using (record_type, location_id, first_day, last_day, issued)
    where mine.source_file_id in (select source_file_id from touched)
      and (newer.received_at > mine.received_at
           or (newer.received_at = mine.received_at and newer.source_file_id > mine.source_file_id))
),
uncovered as (
    select mine.source_file_id
    from file_keys as mine
    anti join later_reports using (source_file_id, record_type, location_id, first_day, last_day, issued)
    where mine.source_file_id in (select source_file_id from touched)
)
select touched.source_file_id, any_value(deliveries.path),
       string_agg(distinct later_reports.newer_path, ', ' order by later_reports.newer_path)
from touched
inner join deliveries using (source_file_id)
inner join later_reports using (source_file_id)
where touched.source_file_id not in (select source_file_id from uncovered)
group by touched.source_file_id
order by 2
"""


def supersede(
    conn: duckdb.DuckDBPyConnection,
    partner_id: str,
    file_id: str,
    first_days: dict[str, tuple[date, date]],
    *,
    others_loaded: bool,
) -> list[tuple[str, str, str]]:
    """Mark loaded files superseded whose every key a later-received file reports again; returns them.

    ``others_loaded``: whether the ledger holds another loaded (or superseded) file of the partner; if not,
    there is nothing to compare with.
    """
    if not others_loaded or not first_days or not _others_report_days(conn, partner_id, file_id, first_days):
        return []
    superseded = []
    for superseded_id, path, newer_paths in fetch_all(conn, _SUPERSEDE_SQL, {"partner": partner_id, "file": file_id}):
        reason = f"every location and period it reports was re-sent later, by {newer_paths}"
        fetch_all(
            conn,
            f"update {FEED_LEDGER_TABLE} set status = 'superseded', reason = ? "
            "where source_file_id = ? and status = 'loaded'",
            [reason, superseded_id],
        )
        superseded.append((superseded_id, path, reason))
    return superseded


# A day every key carries, per raw feed table: two files can only share a key if they share such a day.
KEY_DAY_COLUMNS = {"stock": "as_of_date", "sales": "period_start", "forecast": "forecast_date"}


def key_days(parsed: ParsedFile) -> dict[str, tuple[date, date]]:
    """Per record type with rows: the earliest and latest key day the file reports.

    Promotion calendars have none: a later calendar revises an earlier one statement by statement (the warehouse
    keeps both, so a past night still sees what it knew), it never supersedes the file.
    """
    days = {}
    for record_type, result in parsed.results.items():
        if result.rows_parsed and record_type in KEY_DAY_COLUMNS:
            column = result.rows[KEY_DAY_COLUMNS[record_type]]
            days[record_type] = (column.min().date(), column.max().date())
    return days


def _others_report_days(
    conn: duckdb.DuckDBPyConnection, partner_id: str, file_id: str, first_days: dict[str, tuple[date, date]]
) -> bool:
    """Cheap pre-check: does another file of the partner report the same record type on one of these days?"""
    probes = []
    parameters: dict[str, object] = {"partner": partner_id, "file": file_id}
    for record_type, (first, last) in first_days.items():
        column = KEY_DAY_COLUMNS[record_type]
        probes.append(
            f"""(select 1 from {RAW_FEED_TABLES[record_type]} where partner_id = $partner and source_file_id <> $file
                 and {column} between $first_{record_type} and $last_{record_type} limit 1)"""
        )
        parameters |= {f"first_{record_type}": first, f"last_{record_type}": last}
    rows = fetch_all(conn, f"select count(*) from ({' union all '.join(probes)})", parameters)
    return rows[0][0] > 0
