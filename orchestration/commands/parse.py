"""`cmi parse FILE`: show the canonical rows a partner file turns into, as JSON Lines, without loading anything.

For engineers onboarding a partner or answering "why was this file quarantined?": the same parsers the
nightly ingest uses, on one file, with the partner's configuration or a built-in default mapping.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FORMAT_CHOICES = ("auto", "csv", "xlsx", "json", "x12", "edifact")

# Exit codes: 0 every row parsed; 1 the file parsed but some rows were rejected; 2 the file cannot be used.
EXIT_REJECTS = 1
EXIT_INVALID = 2


def register(commands: argparse._SubParsersAction) -> None:
    parse = commands.add_parser(
        "parse",
        help="print the canonical rows of one partner file as JSON Lines",
        description="Parse one partner file (CSV/TSV, Excel, JSON, X12 852/846, EDIFACT INVRPT/SLSRPT) and print "
        "its canonical rows on stdout as JSON Lines, one object per row with record_type and the canonical "
        "columns (a measure the file does not report is null, e.g. units_received or units_out_of_stock on a "
        "sales row). Rejected rows are listed on stderr; for X12 and EDIFACT files a stderr line accounts "
        "for every quantity (rows, rejects, unused quantities by code), followed, when the file carries several "
        "interchanges or one that did not load whole, by one line per interchange (loaded, partly_loaded or "
        "refused, with the first defect's segment and its quantity counts). Exit code 0: every row and quantity "
        "loaded; 1: some rows rejected, quantities unused, an interchange refused (or no usable row at all); 2: "
        "the file cannot be used (one line on stderr names the file, the line or segment and the reason).",
    )
    parse.add_argument("file", metavar="FILE", help="the delivered file")
    parse.add_argument(
        "--partner",
        metavar="ID",
        help="read it with this partner's config from the partner config folder (default: a built-in mapping "
        "of canonical column names and the standard EDI codes)",
    )
    parse.add_argument(
        "--format",
        choices=FORMAT_CHOICES,
        default="auto",
        help="file format (default auto: ISA -> x12, UNA/UNB -> edifact, zip -> xlsx, JSON value -> json, "
        "else delimited)",
    )
    parse.set_defaults(handler=cmd_parse)


def cmd_parse(args: argparse.Namespace) -> int:
    from assets.feeds.errors import FeedError, PartnerConfigError
    from assets.feeds.loading.loader import crash_location

    path = Path(args.file)
    try:
        parsed = _parse(path, args.partner, args.format)
    except (FeedError, PartnerConfigError) as error:
        print(_one_line(str(error)), file=sys.stderr)
        return EXIT_INVALID
    except OSError as error:
        print(_one_line(f"{path}: {error.strerror or error}"), file=sys.stderr)
        return EXIT_INVALID
    except (Exception, RecursionError) as error:  # noqa: BLE001 - a crash is reported as the loader records it
        print(
            _one_line(f"{path}: parser crashed: {type(error).__name__}: {error} (at {crash_location(error)})"),
            file=sys.stderr,
        )
        return EXIT_INVALID
    _write_rows(parsed, sys.stdout)
    rejected = _write_rejects(parsed, path, sys.stderr)
    unused = _write_account(parsed, path, sys.stderr)
    return EXIT_REJECTS if rejected or unused else 0


def _parse(path: Path, partner_id: str | None, file_format: str):
    from assets.feeds.errors import FeedError
    from assets.feeds.loading.file_scan import hash_file
    from assets.feeds.loading.limits import DEFAULT_LIMITS, LongestLine
    from assets.feeds.loading.loader import check_limits
    from assets.feeds.parsers.detect import default_spec, detect_format, parse_file
    from assets.feeds.partner_config import FileSpec

    if not path.is_file():
        raise FeedError(path, None, "no such file")
    longest = LongestLine()
    source_file_id = hash_file(path, [longest])
    if file_format == "auto":
        file_format = detect_format(path)
    config = _partner_config(partner_id, path) if partner_id is not None else None
    # The same limits as the nightly load, so a file `cmi parse` reads is one the loader would read.
    check_limits(
        path,
        path.stat().st_size,
        FileSpec("sales", "*", format=file_format),
        config.limits if config else DEFAULT_LIMITS,
        longest if file_format == "csv" else None,
    )
    if config is None:
        spec = default_spec(path, file_format)
        return parse_file(path, spec, None, source_file_id)
    specs = _candidate_specs(config, path, file_format)
    first_error: FeedError | None = None
    for spec in specs:
        try:
            return parse_file(path, spec, config.partner_id, source_file_id, default_currency=config.currency)
        except FeedError as error:
            # Another spec of the same format may fit (a stock and a sales CSV); report the first failure.
            first_error = first_error or error
    assert first_error is not None
    raise first_error


def _partner_config(partner_id: str, path: Path):
    from assets.feeds.errors import FeedError
    from assets.feeds.partner_config import load_partner_configs
    from orchestration.runtime import settings

    # Only this partner's YAML is read: another partner's broken file is none of this command's business.
    config_dir = settings.partner_config_dir()
    config = load_partner_configs(config_dir, [partner_id]).get(partner_id)
    if config is None:
        known = ", ".join(sorted({p.stem for p in [*config_dir.glob("*.yaml"), *config_dir.glob("*.yml")]})) or "none"
        raise FeedError(path, None, f"unknown partner '{partner_id}' (configured: {known})")
    return config


def _candidate_specs(config, path: Path, file_format: str) -> list:
    """The spec whose pattern matches the file name, else every spec of the file's format, in config order."""
    import dataclasses

    from assets.feeds.errors import FeedError

    matching = config.spec_for(path.name)
    if matching is not None and matching.format == file_format:
        return [matching]
    if matching is not None and file_format != matching.format:
        # The content says otherwise than the name: read it as what it is, with the spec's other settings.
        same_format = [spec for spec in config.files if spec.format == file_format]
        if same_format:
            return same_format
        return [dataclasses.replace(matching, format=file_format)]
    same_format = [spec for spec in config.files if spec.format == file_format]
    if not same_format:
        formats = ", ".join(sorted({spec.format for spec in config.files}))
        raise FeedError(
            path, None, f"{config.partner_id} sends no {file_format} files (its configured formats: {formats})"
        )
    return same_format


def _write_rows(parsed, stream) -> None:
    from assets.feeds.contracts import DATE_COLUMNS, RECORD_TYPES

    for record_type in RECORD_TYPES:
        result = parsed.results.get(record_type)
        if result is None or result.rows_parsed == 0:
            continue
        frame = result.rows.copy()
        for column in frame.columns:
            if column in DATE_COLUMNS:
                frame[column] = frame[column].dt.strftime("%Y-%m-%d")
        frame.insert(0, "record_type", record_type)
        text = frame.to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
        stream.write(text if text.endswith("\n") else text + "\n")


def _write_rejects(parsed, path: Path, stream) -> int:
    """One stderr line per rejected row, in file order across record types."""
    rejects = sorted(
        (int(line), result.record_type, reason)
        for result in parsed.results.values()
        for line, reason in zip(result.rejects["source_line"], result.rejects["reason"], strict=True)
    )
    for line, record_type, reason in rejects:
        print(_one_line(f"{path}: {parsed.position} {line}: rejected {record_type} row: {reason}"), file=stream)
    return len(rejects)


# One line on a terminal, not a hostile cell of hundreds of megabytes.
MAX_LINE_CHARS = 2000


def _write_account(parsed, path: Path, stream) -> int:
    """For EDI files, where every quantity element went (loaded, rejected, unused by code), and what became of
    each interchange; returns how many things were left unused or refused."""
    account = parsed.account
    if account is None:
        return 0
    print(
        _one_line(f"{path}: account: {parsed.rows_parsed} rows, {parsed.rows_rejected} rejected; {account.summary()}"),
        file=stream,
    )
    outcomes = parsed.outcomes
    refused = [item for item in outcomes if item.outcome != "loaded"]
    # One line per interchange when the file carries several, or one that did not load whole.
    for item in outcomes if len(outcomes) > 1 or refused else ():
        counts = (
            f"{item.quantities_reported} quantities: {item.quantities_loaded} loaded, "
            f"{item.quantities_rejected} rejected, {item.quantities_unused} unused"
        )
        why = f" ({item.reason})" if item.reason else ""
        print(
            _one_line(f"{path}: interchange {item.index} ({item.control_number}): {item.outcome}{why}; {counts}"),
            file=stream,
        )
    reason = parsed.unusable_reason
    if reason is not None:
        print(_one_line(f"{path}: no usable rows: {reason}"), file=stream)
    return account.unused_elements + (reason is not None) + len(refused)


def _one_line(text: str) -> str:
    from assets.feeds.loading.loader import safe_text

    return safe_text(" ".join(text.split()) if "\n" in text or "\r" in text else text, MAX_LINE_CHARS)
