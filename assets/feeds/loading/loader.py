"""Landing folder into the `raw` schema: each partner's delivered files through the feed ledger, one by one.

Every delivered file gets exactly one ledger row (``raw.feed_files``, see ``ledger.py``) keyed by the SHA-256 of
its bytes, so a rerun over the same landing folder changes nothing, a re-sent copy under another name is recorded
as a duplicate, and a file that cannot be used is quarantined with its reason. Each loaded file is written in one
transaction (its rows of every record type, its rejects and its ledger row; see ``writer.py``), so a failure
never leaves half a file behind.

The parser is chosen by the format the partner's file spec names; a UTF-8 delimited file first tries DuckDB's
own reader (``delimited_duckdb.py``), which loads the same rows and rejects or steps aside for the pandas path.
EDI files carry an interchange control number, recorded in the ledger: a second file of the same partner and
format reusing a number with other content is quarantined ("control number N already used by file X"). A
corrected resend supersedes: when every (record type, location, period) key of a loaded file is also reported by
files received later, the earlier file's ledger status becomes ``superseded``. Its rows stay: dbt staging reads
the rows of ``loaded`` and ``superseded`` files alike and lets the latest received file win per key
(``latest_loaded_delivery``), so the status records that the file no longer wins any key.

Supplier master data is loaded by ``master_data.py`` (:func:`load_master_data`, importable from here too).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from assets.feeds.contracts import LEDGER_STATUSES, RAW_FEED_COLUMNS, RAW_FEED_TABLES
from assets.feeds.errors import FeedError
from assets.feeds.loading.acknowledgments import acknowledge_file, acknowledge_reused_control, resend_stored
from assets.feeds.loading.byte_profile import ByteProfile
from assets.feeds.loading.delimited_duckdb import NativeLoad, load_native
from assets.feeds.loading.edi_ledger import edi_ledger_fields
from assets.feeds.loading.file_scan import hash_file
from assets.feeds.loading.ledger import (
    KEY_DAY_COLUMNS,
    FeedLedger,
    insert_ledger_row,
    key_days,
    quarantine_copy,
    supersede,
)
from assets.feeds.loading.master_data import load_master_data
from assets.feeds.loading.native_plan import NativeReadUnsupported, plan_native_read
from assets.feeds.loading.raw_schema import ensure_raw_schema
from assets.feeds.loading.writer import RawWriter
from assets.feeds.parsers.detect import parse_file
from assets.feeds.parsers.interchange import EnvelopeError
from assets.feeds.parsers.results import ParsedFile, ParseResult
from assets.feeds.partner_config import FILE_FORMATS, FileSpec, PartnerConfig

__all__ = ["FAILED", "PARSERS", "FileOutcome", "IngestReport", "ingest_landing", "load_master_data"]

# Outcome of a file whose parser crashed: no ledger row is written, so the next run tries it again.
FAILED = "failed"

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
        counts = {status: tally.get(status, 0) for status in LEDGER_STATUSES[:3]}
        for status in ("superseded", "no_usable_rows", FAILED):
            if tally.get(status):
                counts[status] = tally[status]
        return counts

    def with_status(self, status: str) -> list[FileOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == status]


def ingest_landing(
    conn: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    configs: dict[str, PartnerConfig],
    quarantine_dir: Path | None = None,
    now: datetime | None = None,
    on_file: Callable[[str], None] | None = None,
    partners: Collection[str] | None = None,
    outbox_dir: Path | None = None,
) -> IngestReport:
    """Load every new file under ``landing_dir/<partner_id>/`` into the raw tables and the feed ledger.

    Folders whose name starts with "_" (supplier data) or "." are skipped, as are files directly in
    ``landing_dir``. Files are visited in sorted order so runs are deterministic. A file whose hash and path
    are already in the ledger is skipped; the same bytes under another path become a ``duplicate``; a file
    without partner config, matching no pattern or failing to parse is ``quarantined`` (and copied unchanged
    to ``quarantine_dir/<partner_id>/`` when given). A crashing parser gives a ``failed`` outcome without a
    ledger row, so the file is retried next run. Database errors roll back the file being loaded and
    propagate. ``partners`` limits the run to those partners' folders (None: every partner folder).
    ``outbox_dir``: where every EDI interchange is acknowledged (``<outbox_dir>/<partner_id>/``); None: not at all.
    """
    landing_dir = Path(landing_dir)
    if not landing_dir.is_dir():
        raise FileNotFoundError(f"landing folder {landing_dir} does not exist")
    ensure_raw_schema(conn)
    run = IngestRun(
        conn=conn,
        ledger=FeedLedger.read(conn),
        quarantine_dir=Path(quarantine_dir) if quarantine_dir is not None else None,
        now=now or datetime.now(UTC).replace(tzinfo=None),
        writer=RawWriter(conn),
        outbox_dir=Path(outbox_dir) if outbox_dir is not None else None,
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
class IngestRun:
    """What every file of one ingest run shares; ``superseded`` collects the earlier files its files superseded."""

    conn: duckdb.DuckDBPyConnection
    ledger: FeedLedger
    quarantine_dir: Path | None
    now: datetime
    writer: RawWriter
    superseded: list[str] = field(default_factory=list)
    outbox_dir: Path | None = None


def _ingest_file(
    run: IngestRun, file: Path, relative: str, partner_dir: Path, config: PartnerConfig | None
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
            quarantine_copy(file, partner_dir, quarantine_dir)
        insert_ledger_row(conn, row)
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
        if run.outbox_dir is not None:
            resend_stored(conn, run.outbox_dir, partner_id, file_id)  # a redelivery gets the same acknowledgment
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

    loaded: FileLoad | None = None
    if profile is not None:
        try:
            loaded = _load_delimited_natively(run, file, profile, spec, config, ledger_row)
        except FeedError as err:
            return record("quarantined", str(err), spec)
        except NativeReaderCrash as crash:
            return crashed(crash.error)
    if loaded is None:
        try:
            parsed = parser(file, spec, config, file_id)
        except FeedError as err:
            if isinstance(err, EnvelopeError) and run.outbox_dir is not None:
                acknowledge_file(conn, run.outbox_dir, partner_id, file_id, err.interchanges, refused=True, now=now)
            return record("quarantined", str(err), spec)
        except Exception as exc:
            return crashed(exc)
        if isinstance(parsed, ParseResult):
            parsed = ParsedFile.of(parsed)
        control_number = parsed.control_number
        owner = ledger.control_owner(partner_id, spec.format, control_number)
        if owner is not None:
            reason = f"control number {control_number} already used by file {owner}"
            if parsed.interchanges and run.outbox_dir is not None:
                acknowledge_reused_control(conn, run.outbox_dir, partner_id, file_id, parsed.interchanges, reason, now)
            return record("quarantined", reason, spec, control_number)
        row = _loaded_row(ledger_row, spec, control_number, parsed.rows_parsed, parsed.rows_rejected)
        row |= edi_ledger_fields(parsed)
        superseded = _load_parsed_file(run, file_id, parsed, row)
        loaded = FileLoad(parsed.rows_parsed, parsed.rows_rejected, control_number, superseded, row.get("reason"))
        if parsed.interchanges and run.outbox_dir is not None:
            acknowledge_file(conn, run.outbox_dir, partner_id, file_id, parsed.interchanges, refused=False, now=now)

    control_number, superseded = loaded.control_number, loaded.superseded
    ledger.add(file_id, relative)
    ledger.claim(partner_id, spec.format, control_number, relative)
    ledger.loaded_partners.add(partner_id)
    status, reason = ("no_usable_rows", loaded.unusable) if loaded.unusable else ("loaded", None)
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
class FileLoad:
    """What loading one file wrote: row counts, its control number and the files it superseded."""

    rows_parsed: int
    rows_rejected: int
    control_number: str | None
    superseded: list[tuple[str, str, str]]
    unusable: str | None = None  # why a valid file yields no row (ledger status no_usable_rows)


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


class NativeReaderCrash(Exception):
    """The native delimited reader failed on a file for a reason of ours (a bug), not the partner's."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        super().__init__(str(error))


def _load_delimited_natively(
    run: IngestRun, file: Path, profile: ByteProfile, spec: FileSpec, config: PartnerConfig, ledger_row: dict
) -> FileLoad | None:
    """Load a delimited file through DuckDB's CSV reader (``delimited_duckdb``); None when it needs pandas.

    ``profile`` holds the facts about the file's bytes gathered while they were hashed.

    The same rows, rejects and ledger row as parsing with ``parse_delimited`` and :func:`_load_parsed_file`, in one
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
        raise NativeReaderCrash(exc) from exc
    table = RAW_FEED_TABLES[record_type]
    try:
        with run.writer.file_transaction(file_id, [record_type]):
            try:
                native = load_native(
                    conn,
                    plan,
                    table,
                    RAW_FEED_COLUMNS[record_type],
                    run.writer.types[table],
                    config.partner_id,
                    file_id,
                    default_currency=config.currency,
                    key_day=KEY_DAY_COLUMNS[record_type],
                )
            except (FeedError, NativeReadUnsupported, duckdb.Error):
                raise
            except Exception as exc:
                raise NativeReaderCrash(exc) from exc
            if native.remainder is not None:
                run.writer.write([native.remainder])
            insert_ledger_row(conn, _loaded_row(ledger_row, spec, None, native.rows_parsed, native.rows_rejected))
            partner_id = ledger_row["partner_id"]
            days = _native_key_days(record_type, native)
            others_loaded = partner_id in run.ledger.loaded_partners
            superseded = supersede(conn, partner_id, file_id, days, others_loaded=others_loaded)
    except NativeReadUnsupported:
        return None
    return FileLoad(native.rows_parsed, native.rows_rejected, None, superseded)


def _load_parsed_file(run: IngestRun, file_id: str, parsed: ParsedFile, ledger_row: dict) -> list[tuple[str, str, str]]:
    """Rows of every record type, rejects and the ledger row of one file, all or nothing.

    Returns the files (id, path, reason) this load marked superseded, the new file itself included when files
    received after it already cover everything it reports (only possible when the partner had loaded files).
    """
    partner_id = ledger_row["partner_id"]
    with run.writer.file_transaction(file_id, list(parsed.results)):
        run.writer.write(parsed.results.values())
        insert_ledger_row(run.conn, ledger_row)
        others_loaded = partner_id in run.ledger.loaded_partners
        return supersede(run.conn, partner_id, file_id, key_days(parsed), others_loaded=others_loaded)


def _native_key_days(record_type: str, native: NativeLoad) -> dict[str, tuple[date, date]]:
    """The key days (see :func:`~assets.feeds.loading.ledger.key_days`) of a file loaded natively.

    Those of its inserted rows and those of the rows of its refused lines.
    """
    ranges = [native.days] if native.days is not None else []
    if native.remainder is not None:
        ranges += key_days(ParsedFile.of(native.remainder)).values()
    if not ranges:
        return {}
    return {record_type: (min(first for first, _ in ranges), max(last for _, last in ranges))}
