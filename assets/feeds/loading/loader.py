"""Landing folder into the `raw` schema: partner deliveries through the feed ledger, and supplier master data.

Every delivered file gets exactly one ledger row (``raw.feed_files``) keyed by the SHA-256 of its bytes, so a
rerun over the same landing folder changes nothing, a re-sent copy under another name is recorded as a
duplicate, and a file that cannot be used is quarantined with its reason. Each loaded file is written in one
transaction (its rows of every record type, its rejects and its ledger row), so a failure never leaves half a
file behind.

The parser is chosen by the format the partner's file spec names. EDI files carry an interchange control
number, recorded in the ledger: a second file of the same partner and format reusing a number with other content
is quarantined ("control number N already used by file X"). A corrected resend supersedes: when every
(record type, location, period) key of a loaded file is also reported by files received later, the earlier
file's ledger status becomes ``superseded``. Its rows stay: dbt staging reads the rows of ``loaded`` and
``superseded`` files alike and lets the latest received file win per key (``latest_loaded_delivery``), so the
status records that the file no longer wins any key.
"""

from __future__ import annotations

import contextlib
import shutil
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from assets.feeds.contracts import (
    FEED_LEDGER_COLUMNS,
    FEED_LEDGER_TABLE,
    FEED_REJECTS_TABLE,
    LEDGER_STATUSES,
    MASTER_DATA_FILES,
    RAW_FEED_COLUMNS,
    RAW_FEED_TABLES,
    REJECT_COLUMNS,
)
from assets.feeds.errors import FeedError, MasterDataError
from assets.feeds.loading.byte_profile import ByteProfile
from assets.feeds.loading.delimited_duckdb import NativeLoad, load_native
from assets.feeds.loading.file_scan import hash_file
from assets.feeds.loading.native_plan import NativeReadUnsupported, plan_native_read
from assets.feeds.loading.raw_schema import ensure_raw_schema
from assets.feeds.parsers.detect import parse_file
from assets.feeds.parsers.results import ParsedFile, ParseResult
from assets.feeds.partner_config import FILE_FORMATS, FileSpec, PartnerConfig

# Master data the plan cannot be made without; shipments only sharpen in-transit and reconciliation.
REQUIRED_MASTER_FILES = (
    "partners.csv",
    "partner_locations.csv",
    "products.csv",
    "partner_items.csv",
    "replenishment_agreements.csv",
)

# Outcome of a file whose parser crashed: no ledger row is written, so the next run tries it again.
FAILED = "failed"

# Ledger statuses of files whose rows are (or were) in the raw tables.
LOADED_STATUSES = ("loaded", "superseded")

Parser = Callable[[Path, FileSpec, PartnerConfig, str], ParsedFile | ParseResult]


def _parse_partner_file(path: Path, spec: FileSpec, config: PartnerConfig, source_file_id: str) -> ParsedFile:
    return parse_file(path, spec, config.partner_id, source_file_id, default_currency=config.currency)


# One parser per `format` a file spec may name (tests replace entries to simulate crashes).
PARSERS: dict[str, Parser] = dict.fromkeys(FILE_FORMATS, _parse_partner_file)


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one delivered file in this run."""

    partner_id: str
    path: str  # relative to the landing folder, with forward slashes
    status: str  # loaded | quarantined | duplicate | superseded | failed
    rows: int = 0
    rejected: int = 0
    reason: str | None = None
    source_file_id: str | None = None
    record_type: str | None = None
    control_number: str | None = None


@dataclass
class IngestReport:
    """Per-file outcomes of one ingest run; files already in the ledger are only counted in ``unchanged``.

    ``superseded`` lists earlier files (landing-relative paths) that this run's files superseded.
    """

    outcomes: list[FileOutcome] = field(default_factory=list)
    unchanged: int = 0
    superseded: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Number of new files per status: loaded, quarantined and duplicate always; superseded and failed if any."""
        tally = Counter(outcome.status for outcome in self.outcomes)
        counts = {status: tally.get(status, 0) for status in LEDGER_STATUSES if status != "superseded"}
        for status in ("superseded", FAILED):
            if tally.get(status):
                counts[status] = tally[status]
        return counts

    def with_status(self, status: str) -> list[FileOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == status]


@dataclass
class _Ledger:
    """Which (content hash, path) pairs and control numbers the ledger already knows, kept current during the run."""

    paths_by_file_id: dict[str, list[str]]
    control_owners: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (partner, format, n) -> path
    # Partners with a loaded (or superseded) file: only a file of theirs can supersede or be superseded.
    loaded_partners: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, conn: duckdb.DuckDBPyConnection) -> _Ledger:
        rows = _run(
            conn,
            f"""select source_file_id, path, partner_id, format, control_number, status from {FEED_LEDGER_TABLE}
                order by loaded_at, path""",
        )
        ledger = cls({})
        for file_id, path, partner_id, file_format, control_number, status in rows:
            ledger.add(file_id, path)
            if status in LOADED_STATUSES:
                ledger.claim(partner_id, file_format, control_number, path)
                ledger.loaded_partners.add(partner_id)
        return ledger

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

    def first_path(self, file_id: str) -> str | None:
        paths = self.paths_by_file_id.get(file_id)
        return paths[0] if paths else None

    def add(self, file_id: str, path: str) -> None:
        self.paths_by_file_id.setdefault(file_id, []).append(path)


def ingest_landing(
    conn: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    configs: dict[str, PartnerConfig],
    quarantine_dir: Path | None = None,
    now: datetime | None = None,
    on_file: Callable[[str], None] | None = None,
    partners: Collection[str] | None = None,
) -> IngestReport:
    """Load every new file under ``landing_dir/<partner_id>/`` into the raw tables and the feed ledger.

    Folders whose name starts with "_" (supplier data) or "." are skipped, as are files directly in
    ``landing_dir``. Files are visited in sorted order so runs are deterministic. A file whose hash and path
    are already in the ledger is skipped; the same bytes under another path become a ``duplicate``; a file
    without partner config, matching no pattern or failing to parse is ``quarantined`` (and copied unchanged
    to ``quarantine_dir/<partner_id>/`` when given). A crashing parser gives a ``failed`` outcome without a
    ledger row, so the file is retried next run. Database errors roll back the file being loaded and
    propagate. ``partners`` limits the run to those partners' folders (None: every partner folder).
    """
    landing_dir = Path(landing_dir)
    if not landing_dir.is_dir():
        raise FileNotFoundError(f"landing folder {landing_dir} does not exist")
    ensure_raw_schema(conn)
    run = _Run(
        conn=conn,
        ledger=_Ledger.read(conn),
        quarantine_dir=Path(quarantine_dir) if quarantine_dir is not None else None,
        now=now or datetime.now(UTC).replace(tzinfo=None),
        types=table_column_types(conn, [*RAW_FEED_TABLES.values(), FEED_REJECTS_TABLE]),
    )
    report = IngestReport()
    for partner_dir in sorted(path for path in landing_dir.iterdir() if path.is_dir()):
        if partner_dir.name.startswith(("_", ".")) or (partners is not None and partner_dir.name not in partners):
            continue
        partner_id = partner_dir.name
        for file in _delivered_files(partner_dir):
            relative = file.relative_to(landing_dir).as_posix()
            if on_file is not None:
                on_file(relative)
            outcome = _ingest_file(run, file, relative, partner_dir, configs.get(partner_id))
            if outcome is None:
                report.unchanged += 1
            else:
                report.outcomes.append(outcome)
    report.superseded = run.superseded
    return report


def _delivered_files(partner_dir: Path) -> list[Path]:
    files = []
    for path in partner_dir.rglob("*"):
        parts = path.relative_to(partner_dir).parts
        if path.is_file() and not any(part.startswith((".", "_")) for part in parts):
            files.append(path)
    return sorted(files, key=lambda path: path.relative_to(partner_dir).as_posix())


@dataclass
class _Run:
    """What every file of one ingest run shares."""

    conn: duckdb.DuckDBPyConnection
    ledger: _Ledger
    quarantine_dir: Path | None
    now: datetime
    types: dict[str, dict[str, str]]
    superseded: list[str] = field(default_factory=list)


def _ingest_file(
    run: _Run, file: Path, relative: str, partner_dir: Path, config: PartnerConfig | None
) -> FileOutcome | None:
    conn, ledger, quarantine_dir, now = run.conn, run.ledger, run.quarantine_dir, run.now
    partner_id = partner_dir.name
    spec = config.spec_for(file.relative_to(partner_dir)) if config is not None else None
    parser = PARSERS.get(spec.format) if spec is not None else None
    # A delimited file may take DuckDB's reader, which needs facts about its bytes: gathered while hashing them.
    profile = None
    if parser is _parse_partner_file and spec.format == "csv":
        profile = ByteProfile(spec.delimiter)
    file_id = hash_file(file, [profile] if profile is not None else [])
    if ledger.seen(file_id, relative):
        return None
    received_at = datetime.fromtimestamp(file.stat().st_mtime, UTC).replace(tzinfo=None)
    ledger_row = {
        "source_file_id": file_id,
        "partner_id": partner_id,
        "path": relative,
        "received_at": received_at,
        "loaded_at": now,
        "rows_parsed": 0,
        "rows_rejected": 0,
    }

    def record(
        status: str, reason: str | None, spec: FileSpec | None = None, control_number: str | None = None
    ) -> FileOutcome:
        row = ledger_row | {"status": status, "reason": reason, "control_number": control_number}
        if spec is not None:
            row |= {"format": spec.format, "record_type": spec.record_type}
        if status == "quarantined" and quarantine_dir is not None:
            target = quarantine_dir / partner_id / file.relative_to(partner_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(file, target)
        _insert_ledger_row(conn, row)
        ledger.add(file_id, relative)
        return FileOutcome(
            partner_id,
            relative,
            status,
            reason=reason,
            source_file_id=file_id,
            record_type=row.get("record_type"),
            control_number=control_number,
        )

    original = ledger.first_path(file_id)
    if original is not None:
        return record("duplicate", f"same content as {original}", spec)
    if config is None:
        return record("quarantined", f"no partner config for folder '{partner_id}' (expected {partner_id}.yaml)")
    if spec is None:
        patterns = ", ".join(file_spec.pattern for file_spec in config.files)
        return record("quarantined", f"file name matches no pattern configured for {partner_id} ({patterns})")
    if parser is None:
        return record("quarantined", f"no parser for format '{spec.format}'", spec)

    def crashed(exc: Exception) -> FileOutcome:
        # A crashing parser is our bug, not the partner's: keep the other files flowing and retry this one.
        return FileOutcome(
            partner_id,
            relative,
            FAILED,
            reason=f"parser error: {type(exc).__name__}: {exc}",
            source_file_id=file_id,
            record_type=spec.record_type,
        )

    loaded: _Loaded | None = None
    if profile is not None:
        try:
            loaded = _load_delimited_natively(run, file, profile, spec, config, ledger_row)
        except FeedError as err:
            return record("quarantined", str(err), spec)
        except _ReaderCrash as crash:
            return crashed(crash.error)
    if loaded is None:
        try:
            parsed = parser(file, spec, config, file_id)
        except FeedError as err:
            return record("quarantined", str(err), spec)
        except Exception as exc:
            return crashed(exc)
        if isinstance(parsed, ParseResult):
            parsed = ParsedFile.of(parsed)
        control_number = parsed.control_number
        owner = ledger.control_owner(partner_id, spec.format, control_number)
        if owner is not None:
            return record(
                "quarantined", f"control number {control_number} already used by file {owner}", spec, control_number
            )
        row = _loaded_row(ledger_row, spec, control_number, parsed.rows_parsed, parsed.rows_rejected)
        superseded = _load_parsed_file(conn, file_id, parsed, row, run.types, partner_id in ledger.loaded_partners)
        loaded = _Loaded(parsed.rows_parsed, parsed.rows_rejected, control_number, superseded)

    control_number, superseded = loaded.control_number, loaded.superseded
    ledger.add(file_id, relative)
    ledger.claim(partner_id, spec.format, control_number, relative)
    ledger.loaded_partners.add(partner_id)
    status, reason = "loaded", None
    for superseded_id, superseded_path, superseded_reason in superseded:
        if superseded_id == file_id:
            status, reason = "superseded", superseded_reason
        else:
            run.superseded.append(superseded_path)
    return FileOutcome(
        partner_id,
        relative,
        status,
        rows=loaded.rows_parsed,
        rejected=loaded.rows_rejected,
        reason=reason,
        source_file_id=file_id,
        record_type=spec.record_type,
        control_number=control_number,
    )


@dataclass(frozen=True)
class _Loaded:
    """What loading one file wrote: row counts, its control number and the files it superseded."""

    rows_parsed: int
    rows_rejected: int
    control_number: str | None
    superseded: list[tuple[str, str, str]]


def _loaded_row(
    ledger_row: dict, spec: FileSpec, control_number: str | None, rows_parsed: int, rows_rejected: int
) -> dict:
    """The ledger row of a file that loads, whichever path read it."""
    return ledger_row | {
        "status": "loaded",
        "reason": None,
        "format": spec.format,
        "record_type": spec.record_type,
        "control_number": control_number,
        "rows_parsed": rows_parsed,
        "rows_rejected": rows_rejected,
    }


class _ReaderCrash(Exception):
    """The native delimited reader failed on a file for a reason of ours (a bug), not the partner's."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        super().__init__(str(error))


def _load_delimited_natively(
    run: _Run, file: Path, profile: ByteProfile, spec: FileSpec, config: PartnerConfig, ledger_row: dict
) -> _Loaded | None:
    """Load a delimited file through DuckDB's CSV reader (``delimited_duckdb``); None when it needs pandas.

    ``profile`` holds the facts about the file's bytes gathered while they were hashed.

    The same rows, rejects and ledger row as parsing with ``parse_delimited`` and ``_load_parsed_file``, in one
    transaction likewise. A file the native reader cannot vouch for, up front or once read, leaves nothing
    behind (rolled back) and returns None, and the caller parses it with pandas. FeedError (an unusable file)
    propagates after the rollback; so do database errors.
    """
    conn, file_id, record_type = run.conn, ledger_row["source_file_id"], spec.record_type
    try:
        plan = plan_native_read(file, profile, spec, file_id)
    except NativeReadUnsupported:
        return None
    except FeedError:
        raise
    except Exception as exc:
        raise _ReaderCrash(exc) from exc
    table, columns = RAW_FEED_TABLES[record_type], RAW_FEED_COLUMNS[record_type]
    _run(conn, "begin transaction")
    try:
        _delete_file_rows(conn, file_id, [record_type])
        try:
            native = load_native(
                conn,
                plan,
                table,
                columns,
                run.types[table],
                config.partner_id,
                file_id,
                default_currency=config.currency,
                key_day=_FIRST_DAY_COLUMNS[record_type],
            )
        except (FeedError, NativeReadUnsupported, duckdb.Error):
            raise
        except Exception as exc:
            raise _ReaderCrash(exc) from exc
        if native.remainder is not None:
            insert_frame(conn, table, native.remainder.rows, columns, run.types[table])
            rejects_types = run.types[FEED_REJECTS_TABLE]
            insert_frame(conn, FEED_REJECTS_TABLE, native.remainder.rejects, REJECT_COLUMNS, rejects_types)
        _insert_ledger_row(conn, _loaded_row(ledger_row, spec, None, native.rows_parsed, native.rows_rejected))
        partner_id = ledger_row["partner_id"]
        days = _native_key_days(record_type, native)
        superseded = _supersede(conn, partner_id, file_id, days, others_loaded=partner_id in run.ledger.loaded_partners)
        _run(conn, "commit")
    except NativeReadUnsupported:
        _rollback(conn)
        return None
    except BaseException:
        _rollback(conn)
        raise
    return _Loaded(native.rows_parsed, native.rows_rejected, None, superseded)


def _delete_file_rows(conn: duckdb.DuckDBPyConnection, file_id: str, record_types: list[str]) -> None:
    """A file re-offered after its ledger row was removed replaces its earlier rows, never doubles them."""
    for record_type in record_types:
        _run(conn, f"delete from {RAW_FEED_TABLES[record_type]} where source_file_id = ?", [file_id])
    _run(conn, f"delete from {FEED_REJECTS_TABLE} where source_file_id = ?", [file_id])


def _load_parsed_file(
    conn: duckdb.DuckDBPyConnection,
    file_id: str,
    parsed: ParsedFile,
    ledger_row: dict,
    types: dict[str, dict[str, str]],
    partner_loaded_before: bool,
) -> list[tuple[str, str, str]]:
    """Rows of every record type, rejects and the ledger row of one file, all or nothing.

    Returns the files (id, path, reason) this load marked superseded, the new file itself included when files
    received after it already cover everything it reports (only possible when ``partner_loaded_before``).
    """
    _run(conn, "begin transaction")
    try:
        _delete_file_rows(conn, file_id, list(parsed.results))
        rejects = []
        for record_type, result in parsed.results.items():
            table = RAW_FEED_TABLES[record_type]
            insert_frame(conn, table, result.rows, RAW_FEED_COLUMNS[record_type], types[table])
            if len(result.rejects):
                rejects.append(result.rejects)
        if rejects:
            frame = rejects[0] if len(rejects) == 1 else pd.concat(rejects, ignore_index=True)
            insert_frame(conn, FEED_REJECTS_TABLE, frame, REJECT_COLUMNS, types[FEED_REJECTS_TABLE])
        _insert_ledger_row(conn, ledger_row)
        superseded = _supersede(
            conn, ledger_row["partner_id"], file_id, _first_days(parsed), others_loaded=partner_loaded_before
        )
        _run(conn, "commit")
    except BaseException:
        _rollback(conn)
        raise
    return superseded


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


def _supersede(
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
    for superseded_id, path, newer_paths in _run(conn, _SUPERSEDE_SQL, {"partner": partner_id, "file": file_id}):
        reason = f"every location and period it reports was re-sent later, by {newer_paths}"
        _run(
            conn,
            f"update {FEED_LEDGER_TABLE} set status = 'superseded', reason = ? "
            "where source_file_id = ? and status = 'loaded'",
            [reason, superseded_id],
        )
        superseded.append((superseded_id, path, reason))
    return superseded


# A day every key carries, per raw feed table: two files can only share a key if they share such a day.
_FIRST_DAY_COLUMNS = {"stock": "as_of_date", "sales": "period_start", "forecast": "forecast_date"}


def _first_days(parsed: ParsedFile) -> dict[str, tuple[date, date]]:
    """Per record type with rows: the earliest and latest key day the file reports."""
    days = {}
    for record_type, result in parsed.results.items():
        if result.rows_parsed:
            column = result.rows[_FIRST_DAY_COLUMNS[record_type]]
            days[record_type] = (column.min().date(), column.max().date())
    return days


def _native_key_days(record_type: str, native: NativeLoad) -> dict[str, tuple[date, date]]:
    """Like :func:`_first_days`, for a file loaded natively: its inserted rows and those of its refused lines."""
    ranges = [native.days] if native.days is not None else []
    if native.remainder is not None:
        ranges += _first_days(ParsedFile.of(native.remainder)).values()
    if not ranges:
        return {}
    return {record_type: (min(first for first, _ in ranges), max(last for _, last in ranges))}


def _others_report_days(
    conn: duckdb.DuckDBPyConnection, partner_id: str, file_id: str, first_days: dict[str, tuple[date, date]]
) -> bool:
    """Cheap pre-check: does another file of the partner report the same record type on one of these days?"""
    probes = []
    parameters: dict[str, object] = {"partner": partner_id, "file": file_id}
    for record_type, (first, last) in first_days.items():
        column = _FIRST_DAY_COLUMNS[record_type]
        probes.append(
            f"""(select 1 from {RAW_FEED_TABLES[record_type]} where partner_id = $partner and source_file_id <> $file
                 and {column} between $first_{record_type} and $last_{record_type} limit 1)"""
        )
        parameters |= {f"first_{record_type}": first, f"last_{record_type}": last}
    rows = _run(conn, f"select count(*) from ({' union all '.join(probes)})", parameters)
    return rows[0][0] > 0


def _rollback(conn: duckdb.DuckDBPyConnection) -> None:
    # The error being raised matters more than one from a connection that is already gone.
    with contextlib.suppress(duckdb.Error):
        _run(conn, "rollback")


def _insert_ledger_row(conn: duckdb.DuckDBPyConnection, row: dict) -> None:
    columns = ", ".join(FEED_LEDGER_COLUMNS)
    placeholders = ", ".join("?" for _ in FEED_LEDGER_COLUMNS)
    _run(
        conn,
        f"insert into {FEED_LEDGER_TABLE} ({columns}) values ({placeholders})",
        [row.get(column) for column in FEED_LEDGER_COLUMNS],
    )


def _run(conn: duckdb.DuckDBPyConnection, sql: str, parameters: list | None = None) -> list[tuple]:
    """Execute and fetch to the end: DuckDB refuses some later calls (unregister) while a result is open."""
    return conn.execute(sql, parameters).fetchall()


def column_types(conn: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """Declared type of every column of ``schema.table``, in table order."""
    return table_column_types(conn, [table])[table]


def table_column_types(conn: duckdb.DuckDBPyConnection, tables: Collection[str]) -> dict[str, dict[str, str]]:
    """:func:`column_types` of several tables, from one catalogue query."""
    rows = _run(
        conn,
        """select schema_name || '.' || table_name, column_name, data_type from duckdb_columns()
           where database_name = current_database() and schema_name || '.' || table_name in (select unnest($tables))
           order by schema_name, table_name, column_index""",
        {"tables": list(tables)},
    )
    types: dict[str, dict[str, str]] = {table: {} for table in tables}
    for table, column, data_type in rows:
        types[table][column] = data_type
    return types


def insert_frame(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame,
    columns: tuple[str, ...] | list[str],
    types: dict[str, str] | None = None,
) -> None:
    """Append ``frame[columns]`` to ``table`` in one set-based insert, casting each column to its DDL type.

    ``types`` (from :func:`column_types`) saves the catalogue lookup when many files go to the same table.
    """
    if len(frame) == 0:
        return
    types = types or column_types(conn, table)
    view = "_cmi_insert_frame"
    conn.register(view, frame)
    try:
        selected = ", ".join(f'cast("{column}" as {types[column]})' for column in columns)
        _run(conn, f"insert into {table} ({', '.join(columns)}) select {selected} from {view}")
    finally:
        conn.unregister(view)


def load_master_data(conn: duckdb.DuckDBPyConnection, supplier_dir: Path) -> dict[str, int]:
    """Replace the raw master data tables with the supplier's CSV files; returns rows loaded per table.

    Every file of ``MASTER_DATA_FILES`` present in ``supplier_dir`` replaces its table, all in one
    transaction, so the tables never mix two versions. Blank cells load as null. Missing required files,
    missing columns, null keys and values that do not fit the column type raise MasterDataError naming the
    folder or file (and line); ``shipments.csv`` is optional and its table is left as is when absent.
    """
    supplier_dir = Path(supplier_dir)
    ensure_raw_schema(conn)
    if not supplier_dir.is_dir():
        raise MasterDataError(
            f"{supplier_dir}: supplier master data folder does not exist (expected {', '.join(REQUIRED_MASTER_FILES)})"
        )
    missing = [name for name in REQUIRED_MASTER_FILES if not (supplier_dir / name).is_file()]
    if missing:
        raise MasterDataError(f"{supplier_dir}: missing required master data file(s): {', '.join(missing)}")

    frames: dict[str, tuple[Path, pd.DataFrame]] = {}
    for name, table in MASTER_DATA_FILES.items():
        path = supplier_dir / name
        if path.is_file():
            frames[table] = (path, _read_master_file(conn, path, table))

    counts: dict[str, int] = {}
    _run(conn, "begin transaction")
    try:
        for table, (path, frame) in frames.items():
            _run(conn, f"delete from {table}")
            try:
                insert_frame(conn, table, frame, list(column_types(conn, table)))
            except duckdb.Error as exc:
                raise MasterDataError(f"{path}: {exc}") from exc
            counts[table] = len(frame)
        _run(conn, "commit")
    except BaseException:
        _rollback(conn)
        raise
    return counts


def _read_master_file(conn: duckdb.DuckDBPyConnection, path: Path, table: str) -> pd.DataFrame:
    """The file as text columns named like the table, validated against the table's types and not-nulls."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise MasterDataError(f"{path}: cannot read as UTF-8 CSV: {exc}") from exc
    frame.columns = [str(column).strip() for column in frame.columns]
    types = column_types(conn, table)
    missing = [column for column in types if column not in frame.columns]
    if missing:
        raise MasterDataError(
            f"{path}: line 1: missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}"
        )
    frame = frame[list(types)].apply(lambda column: column.str.strip())
    frame = frame.astype(object).where(frame != "", None)
    _check_master_values(conn, path, table, frame, types)
    return frame


def _check_master_values(
    conn: duckdb.DuckDBPyConnection, path: Path, table: str, frame: pd.DataFrame, types: dict[str, str]
) -> None:
    schema, name = table.split(".")
    not_null = {
        column
        for (column,) in _run(
            conn,
            """select column_name from information_schema.columns
               where table_schema = ? and table_name = ? and is_nullable = 'NO'""",
            [schema, name],
        )
    }
    checked = frame.copy()
    checked.insert(0, "_line", range(2, len(frame) + 2))
    view = "_cmi_master_check"
    conn.register(view, checked)
    try:
        for column, data_type in types.items():
            if column in not_null:
                ((line,),) = _run(conn, f'select min(_line) from {view} where "{column}" is null')
                if line is not None:
                    raise MasterDataError(f"{path}: line {line}: {column} is required")
            if data_type == "VARCHAR":
                continue
            bad = _run(
                conn,
                f"""select _line, "{column}" from {view}
                    where "{column}" is not null and try_cast("{column}" as {data_type}) is null
                    order by _line limit 1""",
            )
            if bad:
                line, value = bad[0]
                raise MasterDataError(f"{path}: line {line}: {column} '{value}' is not a valid {data_type}")
    finally:
        conn.unregister(view)
