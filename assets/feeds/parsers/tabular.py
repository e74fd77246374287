"""Excel workbooks and JSON exports into canonical rows, through the same per-partner column mapping as CSV.

Both are turned into text cells first, written the way the partner writes text (dates in its ``date_format``,
decimals with its decimal mark, flags as its first true/false value), so one validation pipeline
(:func:`assets.feeds.parsers.delimited.records_to_result`) judges every column-mapped format alike.

Excel: the configured sheet (default the first) with its header on ``header_row`` (title rows above it are
skipped); ``source_line`` is the worksheet row number. JSON: a list of records at the top level or at a dotted
``records_path`` (``data.records``), or JSON Lines; nested objects are flattened to dotted names (``store.id``)
that the column mapping can name; ``source_line`` is the record number (the line number for JSON Lines).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from assets.feeds.errors import FeedError
from assets.feeds.parsers.delimited import TextRecords, decode_text, records_to_result
from assets.feeds.parsers.results import ParseResult
from assets.feeds.partner_config import FileSpec


def parse_excel(
    path: Path,
    spec: FileSpec,
    partner_id: str,
    source_file_id: str,
    *,
    default_currency: str | None = None,
) -> ParseResult:
    """Parse one sheet of an .xlsx workbook into canonical rows of ``spec.record_type`` and row rejects."""
    path = Path(path)
    table = read_sheet(path, spec)
    return records_to_result(table, spec, partner_id, source_file_id, path, default_currency=default_currency)


def read_sheet(path: Path, spec: FileSpec) -> TextRecords:
    """The configured sheet as text cells, header taken from ``spec.header_row``."""
    if path.stat().st_size == 0:
        raise FeedError(path, None, "empty file (0 bytes)")
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise FeedError(path, None, f"not a readable Excel workbook (.xlsx): {exc}") from exc
    try:
        if spec.sheet is not None and spec.sheet not in workbook.sheetnames:
            sheets = ", ".join(f"'{name}'" for name in workbook.sheetnames)
            raise FeedError(path, None, f"no sheet '{spec.sheet}' in the workbook (sheets: {sheets})")
        sheet = workbook[spec.sheet] if spec.sheet is not None else workbook.worksheets[0]
        rows = [tuple(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()
    where = f"sheet '{sheet.title}' row {spec.header_row}"
    if len(rows) < spec.header_row:
        raise FeedError(path, where, f"no header row: the sheet has {len(rows)} rows")
    header_cells = [_cell_text(value, spec) for value in rows[spec.header_row - 1]]
    while header_cells and not header_cells[-1].strip():
        header_cells.pop()
    if not header_cells:
        raise FeedError(path, where, "the header row is empty")
    width = len(header_cells)
    records: list[list[str]] = []
    lines: list[int] = []
    structural: list[tuple[int, str, str]] = []
    for number, row in enumerate(rows[spec.header_row :], start=spec.header_row + 1):
        cells = [_cell_text(value, spec) for value in row]
        beyond = [index for index, cell in enumerate(cells[width:], start=width) if cell.strip()]
        if beyond:
            column = get_column_letter(beyond[0] + 1)
            structural.append((number, f"value in column {column}, right of the last header column", "\t".join(cells)))
            continue
        records.append((cells + [""] * width)[:width])
        lines.append(number)
    data = pd.DataFrame(records, columns=range(width), dtype=object)
    return TextRecords(
        header_cells,
        data,
        np.asarray(lines, dtype=np.int64),
        structural,
        unit="row",
        header_location=where,
        raw_records=lambda rejected: rejected.astype(object).agg("\t".join, axis=1).tolist(),
    )


def parse_json(
    path: Path,
    spec: FileSpec,
    partner_id: str,
    source_file_id: str,
    *,
    default_currency: str | None = None,
) -> ParseResult:
    """Parse a JSON export (records at ``spec.records_path``) into canonical rows and record rejects."""
    path = Path(path)
    records, lines, unit = read_json_records(path, spec.encoding, spec.records_path)
    if not records:
        where = f" at '{spec.records_path}'" if spec.records_path else ""
        raise FeedError(path, None, f"no records{where}")
    header: dict[str, None] = {}
    flattened: list[dict[str, Any] | None] = []
    structural: list[tuple[int, str, str]] = []
    for record, line in zip(records, lines, strict=True):
        if not isinstance(record, Mapping):
            structural.append((line, f"{unit} is not an object but {type(record).__name__}", _dump(record)))
            flattened.append(None)
            continue
        flat = flatten_record(record)
        header.update(dict.fromkeys(flat))
        flattened.append(flat)
    names = list(header)
    kept = [index for index, flat in enumerate(flattened) if flat is not None]
    # Indexed by position in `records`, so a reject can show the record as it was sent.
    data = pd.DataFrame(
        [[_cell_text(flattened[index].get(name), spec) for name in names] for index in kept],
        index=kept,
        columns=range(len(names)),
        dtype=object,
    )

    def raw_records(rejected: pd.DataFrame) -> list[str]:
        return [_dump(records[index]) for index in rejected.index]

    table = TextRecords(
        names,
        data,
        np.asarray([lines[index] for index in kept], dtype=np.int64),
        structural,
        unit=unit,
        header_location=None,
        raw_records=raw_records,
    )
    return records_to_result(table, spec, partner_id, source_file_id, path, default_currency=default_currency)


def read_json_records(path: Path, encoding: str, records_path: str | None) -> tuple[list[Any], list[int], str]:
    """Records of a JSON document (at ``records_path``) or of a JSON Lines file, with their record or line numbers."""
    text = decode_text(path.read_bytes(), encoding, path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data" and records_path is None:
            return _json_lines(text, path)
        raise FeedError(path, f"line {exc.lineno}", f"invalid JSON: {exc.msg} at column {exc.colno}") from exc
    records = document
    walked: list[str] = []
    for key in (records_path or "").split(".") if records_path else []:
        walked.append(key)
        if not isinstance(records, Mapping) or key not in records:
            keys = ", ".join(map(str, records)) if isinstance(records, Mapping) else type(records).__name__
            raise FeedError(path, None, f"records_path '{records_path}': no '{'.'.join(walked)}' (found: {keys})")
        records = records[key]
    if not isinstance(records, list):
        hint = " (set records_path to the list of records)" if isinstance(records, Mapping) else ""
        where = f"'{records_path}'" if records_path else "the top level"
        raise FeedError(path, None, f"expected a list of records at {where}, found {type(records).__name__}{hint}")
    return records, list(range(1, len(records) + 1)), "record"


def _json_lines(text: str, path: Path) -> tuple[list[Any], list[int], str]:
    records: list[Any] = []
    lines: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise FeedError(
                path, f"line {number}", f"invalid JSON Lines record: {exc.msg} at column {exc.colno}"
            ) from exc
        lines.append(number)
    return records, lines, "line"


def flatten_record(record: Mapping, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_record(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _dump(record: Any) -> str:
    return json.dumps(record, ensure_ascii=False, default=str)


def _cell_text(value: Any, spec: FileSpec) -> str:
    """A cell or JSON value as the partner would have written it as text, so one parser reads all formats."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return spec.true_values[0] if value else spec.false_values[0]
    if isinstance(value, datetime | date):
        return value.strftime(spec.date_format)
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value).replace(".", spec.decimal)
    if isinstance(value, list | dict):
        return _dump(value)
    return str(value)
