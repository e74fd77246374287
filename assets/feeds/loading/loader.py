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

import hashlib
import os
import traceback
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property, lru_cache
from pathlib import Path

import duckdb

from assets.feeds.contracts import LEDGER_STATUSES, RAW_FEED_COLUMNS, RAW_FEED_TABLES
from assets.feeds.errors import FeedError
from assets.feeds.loading.acknowledgments import acknowledge_reused_control, resend_stored
from assets.feeds.loading.archive import Delivery, FeedArchive
from assets.feeds.loading.byte_profile import ByteProfile
from assets.feeds.loading.delimited_duckdb import NativeLoad, load_native
from assets.feeds.loading.edi_ledger import (
    edi_ledger_fields,
    record_interchanges,
    refused_outcomes,
    settle_interchanges,
    settle_refused,
)
from assets.feeds.loading.file_scan import hash_file
from assets.feeds.loading.landing_walk import LandingEntry, partner_folders, walk_partner
from assets.feeds.loading.ledger import (
    KEY_DAY_COLUMNS,
    FeedLedger,
    forget_quarantined,
    insert_ledger_row,
    key_days,
    mark_rules_version,
    quarantine_copy,
    supersede,
)
from assets.feeds.loading.limits import (
    DEFAULT_LIMITS,
    FileLimits,
    LongestLine,
    check_json_depth,
    check_lines,
    check_size,
    check_workbook,
)
from assets.feeds.loading.master_data import load_master_data
from assets.feeds.loading.native_plan import NativeReadUnsupported, plan_native_read
from assets.feeds.loading.raw_schema import ensure_raw_schema
from assets.feeds.loading.writer import OUT_OF_MEMORY, RawWriter, fetch_all, refused_out_of_memory, rollback
from assets.feeds.parsers.detect import parse_file
from assets.feeds.parsers.interchange import EnvelopeError
from assets.feeds.parsers.results import ParsedFile, ParseResult
from assets.feeds.partner_config import FILE_FORMATS, FileSpec, PartnerConfig

__all__ = ["PARSERS", "FileOutcome", "IngestReport", "ingest_landing", "load_master_data", "safe_text"]

Parser = Callable[[Path, FileSpec, PartnerConfig, str], ParsedFile | ParseResult]

# The warehouse failing (a lock, the disk, a lost connection) stops the run, to be retried; any other error while a
# file is read, DuckDB's reader refusing its bytes included, fails that file only.
WAREHOUSE_ERRORS = (
    duckdb.IOException,
    duckdb.TransactionException,
    duckdb.FatalException,
    duckdb.ConnectionException,
    duckdb.InterruptException,
)
# A reason longer than this is cut: an exception may quote a whole hostile cell.
MAX_REASON_CHARS = 2000
_FEEDS_PACKAGE = Path(__file__).resolve().parents[1]


def _parse_partner_file(path: Path, spec: FileSpec, config: PartnerConfig, source_file_id: str) -> ParsedFile:
    return parse_file(path, spec, config.partner_id, source_file_id, default_currency=config.currency)


# One parser per `format` a file spec may name (tests replace entries to simulate crashes).
PARSERS: dict[str, Parser] = dict.fromkeys(FILE_FORMATS, _parse_partner_file)


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one delivered file in this run."""

    partner_id: str
    path: str  # relative to the landing folder, with forward slashes, shown safely
    status: str  # loaded | quarantined | duplicate | superseded
    rows: int = 0
    rejected: int = 0
    reason: str | None = None
    source_file_id: str | None = None
    record_type: str | None = None
    control_number: str | None = None


@dataclass
class IngestReport:
    """Per-file outcomes of one ingest run; files already in the ledger are only counted in ``unchanged``.

    ``superseded`` lists earlier files (landing-relative paths) that this run's files superseded; ``deferred``
    counts files left for the next run because a partner sent more than ``limits.max_files_per_run``.
    """

    outcomes: list[FileOutcome] = field(default_factory=list)
    unchanged: int = 0
    superseded: list[str] = field(default_factory=list)
    deferred: dict[str, int] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        """Number of new files per status: loaded, quarantined and duplicate always; superseded if any."""
        tally = Counter(outcome.status for outcome in self.outcomes)
        counts = {status: tally.get(status, 0) for status in LEDGER_STATUSES[:3]}
        for status in ("superseded", "no_usable_rows"):
            if tally.get(status):
                counts[status] = tally[status]
        return counts

    def with_status(self, status: str) -> list[FileOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == status]


def safe_text(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """Text fit for the warehouse, a log line and a report: undecodable bytes as ``\\xNN``, control characters
    escaped (line breaks kept as spaces), cut to ``limit`` characters."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    text = "".join(char if char.isprintable() else (" " if char in "\r\n\t" else repr(char)[1:-1]) for char in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    """A hash of the feed parsing and loading code: a quarantine judged by older code is judged again."""
    digest = hashlib.sha256()
    for module in sorted(
        [*_FEEDS_PACKAGE.glob("*.py"), *_FEEDS_PACKAGE.glob("parsers/*.py"), *_FEEDS_PACKAGE.glob("loading/*.py")]
    ):
        digest.update(module.name.encode() + b"\0" + module.read_bytes())
    return digest.hexdigest()


def rules_version(config: PartnerConfig | None, config_error: str | None) -> str:
    """What a partner's files are judged by: its config file's bytes (or its error, or none) and the code."""
    digest = hashlib.sha256(_code_fingerprint().encode())
    if config is not None and config.source_path is not None and config.source_path.is_file():
        digest.update(b"config\0" + config.source_path.read_bytes())
    elif config is not None:
        digest.update(b"config\0" + repr(config).encode())
    digest.update(b"error\0" + (config_error or "").encode())
    return digest.hexdigest()[:16]


def ingest_landing(
    conn: duckdb.DuckDBPyConnection,
    landing_dir: Path,
    configs: dict[str, PartnerConfig],
    quarantine_dir: Path | None = None,
    now: datetime | None = None,
    on_file: Callable[[str], None] | None = None,
    partners: Collection[str] | None = None,
    config_errors: Mapping[str, str] | None = None,
    outbox_dir: Path | None = None,
    archive_dir: Path | None = None,
) -> IngestReport:
    """Load every new file under ``landing_dir/<partner_id>/`` into the raw tables and the feed ledger.

    The landing is walked without following any link (``landing_walk``): links, special files, hidden names,
    names that are not UTF-8 and folders nested too deep are recorded as quarantined with the reason, and never
    read. Regular files are visited in name order; each is hashed, kept in the archive (``archive_dir``, when
    given) and judged: a (hash, path) already in the ledger is skipped, unless it was quarantined under other
    rules (its partner's config or the parser code changed since), in which case it is tried again; the same
    bytes as a file loaded for the same partner are a ``duplicate``; a file without a (valid) partner config,
    matching no pattern, over one of its partner's limits (``limits.py``) or failing to parse is ``quarantined``
    (and copied unchanged to ``quarantine_dir/<partner_id>/`` when given), a crashing parser included, with the
    exception and where it was raised. ``config_errors`` names partners whose YAML is broken. Database errors
    roll back the file being loaded and propagate. ``partners`` limits the run to those partners' folders.
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
        archive=FeedArchive(archive_dir) if archive_dir is not None else None,
    )
    config_errors = config_errors or {}
    report = IngestReport()
    for partner_id, folder, refusal in partner_folders(landing_dir, partners):
        config = configs.get(partner_id)
        limits = config.limits if config is not None else DEFAULT_LIMITS
        judge = PartnerRules(partner_id, folder, config, config_errors.get(partner_id), limits)
        if refusal is not None:
            entries = [LandingEntry(partner_id, partner_id, folder, os.fsencode(folder.name), refusal)]
        else:
            entries = walk_partner(landing_dir, partner_id, folder, limits)
        judged = 0  # new verdicts this run: files the ledger already knows cost only their hash
        for entry in entries:
            if judged >= limits.max_files_per_run:
                report.deferred[partner_id] = report.deferred.get(partner_id, 0) + 1
                continue
            if on_file is not None:
                on_file(entry.relative)
            outcome = _ingest_entry(run, entry, judge)
            if outcome is None:
                report.unchanged += 1
            else:
                judged += 1
                report.outcomes.append(outcome)
    run.ledger.write_pending(conn)
    report.superseded = run.superseded
    return report


@dataclass
class PartnerRules:
    """What one partner's files are judged by in this run: its folder, config (or config error) and limits."""

    partner_id: str
    folder: Path
    config: PartnerConfig | None
    config_error: str | None
    limits: FileLimits

    @cached_property
    def version(self) -> str:
        return rules_version(self.config, self.config_error)


@dataclass
class IngestRun:
    """What every file of one ingest run shares; ``superseded`` collects the earlier files its files superseded."""

    conn: duckdb.DuckDBPyConnection
    ledger: FeedLedger
    quarantine_dir: Path | None
    now: datetime
    writer: RawWriter
    archive: FeedArchive | None = None
    superseded: list[str] = field(default_factory=list)
    outbox_dir: Path | None = None


def _ingest_entry(run: IngestRun, entry: LandingEntry, rules: PartnerRules) -> FileOutcome | None:
    """Judge one landing entry; None when the ledger already has its verdict."""
    conn, ledger = run.conn, run.ledger
    partner_id, relative, config = rules.partner_id, entry.relative, rules.config
    version = rules.version
    if not entry.regular:
        # Never opened: its path stands in for a content hash.
        file_id = entry.refused_id
        if ledger.seen(file_id, relative):
            return None
        ledger_row = _ledger_row(file_id, partner_id, relative, None, run.now, version)
        return _record(run, entry, rules, ledger_row, "quarantined", entry.refusal, copy=False)
    file = entry.path
    spec = config.spec_for(Path(os.fsdecode(entry.name_bytes))) if config is not None else None
    parser = PARSERS.get(spec.format) if spec is not None else None
    # A delimited file may take DuckDB's reader, which needs facts about its bytes: gathered while hashing them.
    profile = ByteProfile(spec.delimiter) if parser is _parse_partner_file and spec.format == "csv" else None
    longest = LongestLine() if spec is not None and spec.format == "csv" else None
    try:
        file_id = hash_file(file, [observer for observer in (profile, longest) if observer is not None])
    except FileNotFoundError:
        return None  # gone since the walk: nothing was delivered
    except OSError as error:
        # Swapped for a link or a pipe since the walk: refused like one, never read.
        ledger_row = _ledger_row(entry.refused_id, partner_id, relative, None, run.now, version)
        if ledger.seen(entry.refused_id, relative):
            return None
        reason = f"refused: {error.strerror or error} (the file changed into something else while being read)"
        return _record(run, entry, rules, ledger_row, "quarantined", reason, copy=False)
    retry = ledger.retry_due(file_id, relative, version)
    if ledger.seen(file_id, relative) and not retry:
        return None
    if run.archive is not None:
        run.archive.keep(
            file,
            Delivery(
                partner_id,
                relative,
                os.fsencode(os.path.relpath(file, rules.folder.parent)).hex(),
                file_id,
                entry.size,
                _received_at(entry).isoformat(),
            ),
        )
    ledger_row = _ledger_row(file_id, partner_id, relative, _received_at(entry), run.now, version)
    verdict = _verdict(run, entry, rules, file_id, spec, parser, profile, longest)
    if isinstance(verdict, FileOutcome):
        return verdict
    status, reason = verdict
    if retry:
        previous = _previous_reason(conn, file_id, relative)
        if status == "quarantined" and previous == safe_text(reason):
            mark_rules_version(conn, file_id, relative, version)
            ledger.quarantined[(file_id, relative)] = version
            return None
    return _record(run, entry, rules, ledger_row, status, reason, spec=spec, replaces=retry)


def _verdict(
    run: IngestRun,
    entry: LandingEntry,
    rules: PartnerRules,
    file_id: str,
    spec: FileSpec | None,
    parser: Parser | None,
    profile: ByteProfile | None,
    longest: LongestLine | None,
) -> tuple[str, str] | FileOutcome:
    """(status, reason) for a file that does not load, or the outcome of loading it."""
    partner_id, config, file = rules.partner_id, rules.config, entry.path
    if entry.refusal is not None:
        return "quarantined", entry.refusal
    loaded = run.ledger.loaded_copy(file_id)
    if loaded is not None:
        owner, original = loaded
        if owner == partner_id:
            if run.outbox_dir is not None:
                resend_stored(run.conn, run.outbox_dir, partner_id, file_id)  # a redelivery gets the same answer
            return "duplicate", f"same content as {original}"
        return "quarantined", f"same content as {original}, loaded for partner {owner}: one file feeds one partner"
    if rules.config_error is not None:
        return "quarantined", f"partner config is invalid, so no file of {partner_id} can be read: {rules.config_error}"
    if config is None:
        return "quarantined", f"no partner config for folder '{partner_id}' (expected {partner_id}.yaml)"
    if spec is None:
        patterns = ", ".join(file_spec.pattern for file_spec in config.files)
        return "quarantined", f"file name matches no pattern configured for {partner_id} ({patterns})"
    if parser is None:
        return "quarantined", f"no parser for format '{spec.format}'"
    try:
        check_limits(file, entry.size, spec, rules.limits, longest)
    except FeedError as err:
        return "quarantined", err.named(entry.relative)
    try:
        return _load(run, entry, rules, file_id, spec, parser, profile)
    except FeedError as err:
        return "quarantined", err.named(entry.relative)
    except ParserCrash as crash:
        exc = crash.error
        return "quarantined", f"parser crashed: {type(exc).__name__}: {exc} (at {crash_location(exc)})"


class ParserCrash(Exception):
    """Reading a file failed for a reason of ours (a bug, a library's limit), not a rule the file broke.

    The file is quarantined with the exception and where it was raised, never retried silently; writes to the
    warehouse are outside, so their failures still stop the run.
    """

    def __init__(self, error: BaseException) -> None:
        self.error = error
        super().__init__(str(error))


def _parse(parser: Parser, file: Path, spec: FileSpec, config: PartnerConfig, file_id: str) -> ParsedFile:
    try:
        parsed = parser(file, spec, config, file_id)
    except (FeedError, *WAREHOUSE_ERRORS):
        raise
    except (Exception, RecursionError) as exc:
        raise ParserCrash(exc) from exc
    return ParsedFile.of(parsed) if isinstance(parsed, ParseResult) else parsed


def crash_location(exc: BaseException) -> str:
    """Where an exception was raised: the innermost frame of this project, else the innermost frame."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown location"
    root = str(_FEEDS_PACKAGE.parents[1])
    ours = [frame for frame in frames if frame.filename.startswith(root) and "/.venv/" not in frame.filename]
    frame = (ours or frames)[-1]
    name = os.path.relpath(frame.filename, root) if frame.filename.startswith(root) else frame.filename
    return f"{name}:{frame.lineno} in {frame.name}"


def check_limits(file: Path, size: int, spec: FileSpec, limits: FileLimits, longest: LongestLine | None) -> None:
    """Every limit of ``limits.py`` that applies to the spec's format; raises LimitExceeded for the first broken."""
    check_size(file, size, spec.format, limits)
    if longest is not None:
        check_lines(file, longest, limits)
    if spec.format == "xlsx":
        check_workbook(file, limits)
    if spec.format == "json":
        data = file.read_bytes()
        if spec.encoding.lower().replace("_", "-").startswith(("utf-16", "utf-32")):
            data = data.decode(spec.encoding, errors="replace").encode("utf-8")
        check_json_depth(file, data, limits)


def _received_at(entry: LandingEntry) -> datetime:
    return datetime.fromtimestamp(entry.mtime, UTC).replace(tzinfo=None)


def _ledger_row(
    file_id: str, partner_id: str, relative: str, received_at: datetime | None, now: datetime, version: str
) -> dict:
    return {
        "source_file_id": file_id,
        "partner_id": partner_id,
        "path": relative,
        "received_at": received_at or now,
        "loaded_at": now,
        "rows_parsed": 0,
        "rows_rejected": 0,
        "rules_version": version,
    }


def _previous_reason(conn: duckdb.DuckDBPyConnection, file_id: str, path: str) -> str | None:
    rows = fetch_all(
        conn,
        "select reason from raw.feed_files where source_file_id = ? and path = ? and status = 'quarantined'",
        [file_id, path],
    )
    return rows[0][0] if rows else None


def _record(
    run: IngestRun,
    entry: LandingEntry,
    rules: PartnerRules,
    ledger_row: dict,
    status: str,
    reason: str | None,
    spec: FileSpec | None = None,
    *,
    copy: bool = True,
    replaces: bool = False,
) -> FileOutcome:
    """Write the ledger row of a file that does not load (quarantined or duplicate); copy a quarantined one."""
    reason = safe_text(reason) if reason is not None else None
    row = ledger_row | {"status": status, "reason": reason}
    if spec is not None:
        row |= {"format": spec.format, "record_type": spec.record_type}
    if status == "quarantined" and copy and run.quarantine_dir is not None:
        quarantine_copy(entry.path, rules.folder, run.quarantine_dir)
    file_id, relative = row["source_file_id"], row["path"]
    if replaces:  # the earlier verdict and the new one change places in one transaction
        run.ledger.write_pending(run.conn)
        fetch_all(run.conn, "begin transaction")
        try:
            forget_quarantined(run.conn, file_id, relative)
            insert_ledger_row(run.conn, row)
            fetch_all(run.conn, "commit")
        except BaseException:
            rollback(run.conn)
            raise
    else:
        run.ledger.write_later(run.conn, row)
    run.ledger.add(file_id, relative)
    if status == "quarantined":
        run.ledger.quarantined[(file_id, relative)] = row["rules_version"]
    else:
        run.ledger.quarantined.pop((file_id, relative), None)
    return FileOutcome(
        rules.partner_id, relative, status, reason=reason, source_file_id=file_id, record_type=row.get("record_type")
    )


def _load(
    run: IngestRun,
    entry: LandingEntry,
    rules: PartnerRules,
    file_id: str,
    spec: FileSpec,
    parser: Parser,
    profile: ByteProfile | None,
) -> tuple[str, str] | FileOutcome:
    """Parse and write one file; (status, reason) when it is refused after parsing (a reused control number)."""
    run.ledger.write_pending(run.conn)  # the ledger in file order, before this file's transaction
    ledger, config, file, relative = run.ledger, rules.config, entry.path, entry.relative
    partner_id = rules.partner_id
    received_at = _received_at(entry)
    ledger_row = _ledger_row(file_id, partner_id, relative, received_at, run.now, rules.version)
    replaces = (file_id, relative) in ledger.quarantined
    loaded: FileLoad | None = None
    if profile is not None:
        with refused_out_of_memory(file, entry.size, spec.format):
            loaded = _load_delimited_natively(run, file, profile, spec, config, ledger_row, replaces)
    if loaded is None:
        try:
            parsed = _parse(parser, file, spec, config, file_id)
        except EnvelopeError as err:
            settle_interchanges(
                run.conn, run.outbox_dir, partner_id, file_id, err.interchanges, None,
                refused=True, now=run.now, dated=received_at,
            )  # fmt: skip
            raise
        control_number = parsed.control_number
        owner = ledger.control_owner(partner_id, spec.format, control_number)
        if owner is not None:
            reason = f"control number {control_number} already used by file {owner}"
            if parsed.interchanges and run.outbox_dir is not None:
                acknowledge_reused_control(
                    run.conn, run.outbox_dir, partner_id, file_id, parsed.interchanges, reason, run.now, received_at
                )
            record_interchanges(run.conn, file_id, partner_id, refused_outcomes(parsed.outcomes, reason))
            return "quarantined", reason
        row = _loaded_row(ledger_row, spec, control_number, parsed.rows_parsed, parsed.rows_rejected)
        row |= edi_ledger_fields(parsed)
        try:
            with refused_out_of_memory(file, entry.size, spec.format, parsed.rows_parsed):
                superseded = _load_parsed_file(run, file_id, parsed, row, replaces)
        except FeedError as refusal:  # out of memory while written: refused, and the partner hears so
            settle_refused(run.conn, run.outbox_dir, partner_id, file_id, parsed, refusal.named(relative),
                           now=run.now, dated=received_at, fresh=replaces)  # fmt: skip
            raise
        loaded = FileLoad(parsed.rows_parsed, parsed.rows_rejected, control_number, superseded, row.get("reason"))
        if parsed.interchanges:
            settle_interchanges(
                run.conn, run.outbox_dir, partner_id, file_id, parsed.interchanges, parsed.outcomes,
                refused=False, now=run.now, dated=received_at, fresh=replaces,
            )  # fmt: skip

    control_number, superseded = loaded.control_number, loaded.superseded
    ledger.add(file_id, relative)
    ledger.quarantined.pop((file_id, relative), None)
    ledger.claim(partner_id, spec.format, control_number, relative)
    ledger.note_loaded(file_id, partner_id, relative)
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


def _load_delimited_natively(
    run: IngestRun,
    file: Path,
    profile: ByteProfile,
    spec: FileSpec,
    config: PartnerConfig,
    ledger_row: dict,
    replaces: bool = False,
) -> FileLoad | None:
    """Load a delimited file through DuckDB's CSV reader (``delimited_duckdb``); None when it needs pandas.

    ``profile`` holds the facts about the file's bytes gathered while they were hashed.

    The same rows, rejects and ledger row as parsing with ``parse_delimited`` and :func:`_load_parsed_file`, in one
    transaction likewise. A file the native reader cannot vouch for, up front or once read, leaves nothing
    behind (rolled back) and returns None, and the caller parses it with pandas. FeedError (an unusable file)
    propagates after the rollback; so do database errors and crashes (which quarantine the file).
    """
    conn, file_id, record_type = run.conn, ledger_row["source_file_id"], spec.record_type
    try:
        plan = plan_native_read(file, profile, spec, file_id)
    except NativeReadUnsupported:
        return None
    except FeedError:
        raise
    except Exception as exc:
        raise ParserCrash(exc) from exc
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
            except (FeedError, NativeReadUnsupported, *WAREHOUSE_ERRORS, *OUT_OF_MEMORY):
                raise
            except Exception as exc:
                raise ParserCrash(exc) from exc
            if native.remainder is not None:
                run.writer.write([native.remainder])
            if replaces:
                forget_quarantined(conn, file_id, ledger_row["path"])
            insert_ledger_row(conn, _loaded_row(ledger_row, spec, None, native.rows_parsed, native.rows_rejected))
            partner_id = ledger_row["partner_id"]
            days = _native_key_days(record_type, native)
            others_loaded = partner_id in run.ledger.loaded_partners
            superseded = supersede(conn, partner_id, file_id, days, others_loaded=others_loaded)
    except NativeReadUnsupported:
        return None
    return FileLoad(native.rows_parsed, native.rows_rejected, None, superseded)


def _load_parsed_file(
    run: IngestRun, file_id: str, parsed: ParsedFile, ledger_row: dict, replaces: bool = False
) -> list[tuple[str, str, str]]:
    """Rows of every record type, rejects and the ledger row of one file, all or nothing.

    Returns the files (id, path, reason) this load marked superseded, the new file itself included when files
    received after it already cover everything it reports (only possible when the partner had loaded files).
    """
    partner_id = ledger_row["partner_id"]
    with run.writer.file_transaction(file_id, list(parsed.results)):
        run.writer.write(parsed.results.values())
        if replaces:
            forget_quarantined(run.conn, file_id, ledger_row["path"])
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
