"""Which parser reads a file: dispatch by a spec's format, format sniffing, and the built-in default mapping.

The loader dispatches by the format a partner's file spec names. ``cmi parse`` may be handed any file, so
:func:`detect_format` looks at the content (ISA -> X12, UNA/UNB -> EDIFACT, a zip -> Excel, a JSON value ->
JSON, anything else delimited) and, without a partner, :func:`default_spec` reads it with a built-in mapping:
the X12/EDIFACT default codes, or for column formats the canonical English column names.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Callable
from pathlib import Path

import openpyxl

from assets.feeds.contracts import RAW_FEED_COLUMNS
from assets.feeds.errors import FeedError
from assets.feeds.parsers.delimited import decode_text, parse_delimited
from assets.feeds.parsers.edifact import parse_edifact
from assets.feeds.parsers.results import ParsedFile, ParseResult
from assets.feeds.parsers.tabular import flatten_record, parse_excel, parse_json, read_json_records
from assets.feeds.parsers.x12 import parse_x12
from assets.feeds.partner_config import COLUMN_FORMATS, FILE_FORMATS, LINEAGE_COLUMNS, REQUIRED_COLUMNS, FileSpec

# How source_line counts in each format, for messages that point into a file.
POSITIONS = {"csv": "line", "xlsx": "row", "json": "record", "x12": "segment", "edifact": "segment"}
DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 64 * 1024
XLSX_MAGIC = b"PK\x03\x04"

FormatParser = Callable[..., ParseResult | ParsedFile]
PARSERS: dict[str, FormatParser] = {
    "csv": parse_delimited,
    "xlsx": parse_excel,
    "json": parse_json,
    "x12": parse_x12,
    "edifact": parse_edifact,
}


def parse_file(
    path: Path,
    spec: FileSpec,
    partner_id: str,
    source_file_id: str,
    *,
    default_currency: str | None = None,
) -> ParsedFile:
    """Parse ``path`` with the parser of ``spec.format``; every format answers with a :class:`ParsedFile`."""
    parser = PARSERS.get(spec.format)
    if parser is None:
        raise ValueError(f"no parser for format '{spec.format}' (expected one of {', '.join(FILE_FORMATS)})")
    result = parser(Path(path), spec, partner_id, source_file_id, default_currency=default_currency)
    if isinstance(result, ParseResult):
        return ParsedFile.of(result, position=POSITIONS[spec.format])
    return result


def detect_format(path: Path) -> str:
    """The format of a file judged by its content: x12, edifact, xlsx, json or csv."""
    path = Path(path)
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head:
        raise FeedError(path, None, "empty file (0 bytes)")
    if head.startswith(XLSX_MAGIC):
        return "xlsx"
    text = _sniff_text(head).lstrip()
    if text.startswith("ISA"):
        return "x12"
    if text.startswith(("UNA", "UNB")):
        return "edifact"
    if text[:1] in ("{", "["):
        return "json"
    return "csv"


def default_spec(path: Path, file_format: str) -> FileSpec:
    """A spec for a file of no known partner: EDI defaults, or canonical column names for column formats.

    For column formats the record type is the one whose required canonical columns are all present (forecast,
    then sales, then stock); dates are ISO, decimals use a point, delimiter and encoding are sniffed.
    """
    path = Path(path)
    if file_format not in FILE_FORMATS:
        raise ValueError(f"unknown format '{file_format}' (expected one of {', '.join(FILE_FORMATS)})")
    if file_format not in COLUMN_FORMATS:
        return FileSpec(record_type="sales", pattern="*", format=file_format)
    options: dict = {}
    if file_format == "csv":
        encoding = _sniff_encoding(path)
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
        if not head:
            raise FeedError(path, None, "empty file (0 bytes)")
        # Only the header line matters here; a character cut at the sniff boundary must not fail the sniff.
        lines = head.decode(encoding, errors="replace").lstrip("\ufeff").splitlines()
        first_line = lines[0] if lines else ""
        delimiter = max(DELIMITERS, key=first_line.count)
        headers = next(csv.reader([first_line], delimiter=delimiter), [])
        options = {"delimiter": delimiter, "encoding": encoding}
        where = "line 1"
    elif file_format == "xlsx":
        headers = _excel_headers(path)
        where = "row 1"
    else:
        encoding = _sniff_encoding(path)
        records_path = _guess_records_path(path, encoding)
        records, _, _ = read_json_records(path, encoding, records_path)
        headers = _json_headers(records)
        options = {"encoding": encoding, "records_path": records_path}
        where = None
    return _canonical_spec(path, file_format, headers, where, options)


def _canonical_spec(path: Path, file_format: str, headers: list[str], where: str | None, options: dict) -> FileSpec:
    found = {header.strip().casefold(): header.strip() for header in headers if header and header.strip()}
    for record_type in ("promotion", "forecast", "sales", "stock"):
        if all(column in found for column in REQUIRED_COLUMNS[record_type]):
            columns = {
                column: found[column]
                for column in RAW_FEED_COLUMNS[record_type]
                if column not in LINEAGE_COLUMNS and column in found
            }
            return FileSpec(record_type=record_type, pattern="*", format=file_format, columns=columns, **options)
    wanted = "; ".join(f"{record_type}: {', '.join(columns)}" for record_type, columns in REQUIRED_COLUMNS.items())
    shown = ", ".join(f"'{header}'" for header in headers) or "none"
    raise FeedError(
        path,
        where,
        f"no canonical column names found (headers: {shown}); without --partner a file needs those of one record "
        f"type ({wanted})",
    )


def _sniff_text(head: bytes) -> str:
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if head.startswith(bom):
            return head.decode(encoding, errors="ignore").lstrip("\ufeff")
    return head.decode("latin-1")


def _sniff_encoding(path: Path) -> str:
    with Path(path).open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8"


def _excel_headers(path: Path) -> list[str]:
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a bad archive
        raise FeedError(path, None, f"not a readable Excel workbook (.xlsx): {exc}") from exc
    try:
        first = next(workbook.worksheets[0].iter_rows(values_only=True, max_row=1), ())
    finally:
        workbook.close()
    return [str(value) for value in first if value is not None]


def _guess_records_path(path: Path, encoding: str) -> str | None:
    """The first key holding a list of objects when the document is an object, else None (top-level list)."""
    try:
        document = json.loads(decode_text(path.read_bytes(), encoding, path))
    except json.JSONDecodeError:
        return None
    trail: list[str] = []
    while isinstance(document, dict):
        for key, value in document.items():
            if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
                return ".".join([*trail, str(key)])
        nested = [key for key, value in document.items() if isinstance(value, dict)]
        if not nested:
            return None
        trail.append(str(nested[0]))
        document = document[nested[0]]
    return None


def _json_headers(records: list) -> list[str]:
    names: dict[str, None] = {}
    for record in records[:1000]:
        if isinstance(record, dict):
            names.update(dict.fromkeys(flatten_record(record)))
    return list(names)
