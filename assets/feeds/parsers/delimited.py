"""Delimited partner files (CSV, semicolon, tab) into canonical rows, and the result types every parser returns.

File in, canonical rows out: the partner's headers, date format, decimal and thousands marks and encoding
come from its :class:`FileSpec`; every conversion is vectorised over whole columns, so a million-line file
parses in about a second. Problems with the file as a whole raise :class:`FeedError` (the loader quarantines
the file); problems with single lines become rejects with the physical line number, and the rest of the file is
kept. Values are kept as sent (negative sales are returns, not errors): judging them is the quality layer's job.

The same column pipeline reads Excel and JSON (``tabular.py`` turns them into text cells first), and
:func:`result_from_records` types the rows the EDI parsers (``x12.py``, ``edifact.py``) assemble, so every
format yields the same :class:`ParseResult` frames, collected per file in a :class:`ParsedFile`.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from assets.feeds.contracts import DATE_COLUMNS, FLAG_COLUMNS, QUANTITY_COLUMNS, RAW_FEED_COLUMNS, REJECT_COLUMNS
from assets.feeds.errors import FeedError
from assets.feeds.identity import gtin_problem
from assets.feeds.partner_config import LINEAGE_COLUMNS, MEASURES, REQUIRED_COLUMNS, FileSpec

# What an optional column holds when the file does not carry it (or leaves it blank on a line).
DEFAULT_VALUES: dict[str, object] = {
    "uom": "EA",
    "on_order_qty": 0.0,
    "in_transit_qty": 0.0,
    "units_returned": 0.0,
    "net_sales_amount": np.nan,
    "promo_flag": pd.NA,
}

QUOTE_CHAR = '"'
BOM = "\ufeff"
_BLANKS = "\u00a0\u202f"  # no-break spaces some spreadsheet exports put into numbers
_UTF8_CODECS = ("utf-8", "utf-8-sig")


@dataclass
class ParseResult:
    """Canonical rows of one record type from one file, plus the lines that could not be used.

    ``rows`` has exactly ``RAW_FEED_COLUMNS[record_type]`` in order; ``rejects`` has ``REJECT_COLUMNS``.
    """

    record_type: str
    rows: pd.DataFrame
    rejects: pd.DataFrame

    @property
    def rows_parsed(self) -> int:
        """Lines turned into canonical rows (rejected lines are not counted)."""
        return len(self.rows)

    @property
    def rows_rejected(self) -> int:
        return len(self.rejects)


@dataclass
class ParsedFile:
    """Everything one delivered file yields: a :class:`ParseResult` per record type it carries, and its envelope.

    An X12 852 or an EDIFACT interchange reports stock and sales at once, so results are keyed by record type.
    ``control_number`` is the interchange control number (X12 ISA13, EDIFACT UNB 0020) where the format has one;
    ``position`` says what ``source_line`` counts in this format: line, row (Excel), record (JSON) or segment.
    """

    results: dict[str, ParseResult]
    control_number: str | None = None
    position: str = "line"

    @classmethod
    def of(cls, result: ParseResult, position: str = "line") -> ParsedFile:
        return cls({result.record_type: result}, position=position)

    @property
    def rows_parsed(self) -> int:
        return sum(result.rows_parsed for result in self.results.values())

    @property
    def rows_rejected(self) -> int:
        return sum(result.rows_rejected for result in self.results.values())


def parse_delimited(
    path: Path,
    spec: FileSpec,
    partner_id: str,
    source_file_id: str,
    *,
    default_currency: str | None = None,
) -> ParseResult:
    """Parse one delimited partner file into canonical rows of ``spec.record_type`` and line-level rejects.

    ``default_currency`` (the partner's currency) fills ``currency`` on sales lines when the file carries
    none and the spec gives no constant. Raises FeedError for an empty or undecodable file, missing required
    headers or a file without data lines.
    """
    path = Path(path)
    data = path.read_bytes()
    text = decode_text(data, spec.encoding, path)
    table = _read_records(text, data, spec.encoding, spec.delimiter, path)
    return records_to_result(table, spec, partner_id, source_file_id, path, default_currency=default_currency)


# --- reading the file ---------------------------------------------------------------------------------------


@dataclass
class TextRecords:
    """A file's records as text cells, before any canonical meaning is given to them.

    ``data`` has integer column positions and one row per data record; ``lines`` holds where each record
    starts (a physical line, an Excel row or a JSON record number, as ``unit`` says); ``header_location`` names
    where the header is, for errors; ``raw_records`` renders rejected records for the reject table.
    """

    header: list[str]
    data: pd.DataFrame
    lines: np.ndarray
    structural_rejects: list[tuple[int, str, str]] = field(default_factory=list)  # (line, reason, raw record)
    unit: str = "line"
    header_location: str | None = "line 1"
    raw_records: Callable[[pd.DataFrame], list[str]] | None = None


def decode_text(data: bytes, encoding: str, path: Path) -> str:
    """Bytes as text in the partner's encoding; names the line and byte offset of undecodable bytes."""
    if not data:
        raise FeedError(path, None, "empty file (0 bytes)")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 4].hex(" ")
        hint = ""
        if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            hint = "; the file starts with a UTF-16 byte order mark"
        raise FeedError(
            path,
            f"line {line}",
            f"cannot decode as {encoding} at byte offset {exc.start} (bytes {bad}): {exc.reason}{hint}",
        ) from exc
    except UnicodeError as exc:
        raise FeedError(path, None, f"cannot decode as {encoding}: {exc}") from exc
    if text.startswith(BOM):
        text = text[1:]
    if not text.strip():
        raise FeedError(path, None, "empty file (no text)")
    return text


def _read_records(text: str, data: bytes, encoding: str, delimiter: str, path: Path) -> TextRecords:
    """Split text into records: pandas when each record is one line, else the csv module (exact, slower)."""
    header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=QUOTE_CHAR), None)
    if header is None:
        raise FeedError(path, None, "empty file (no header line)")
    # UTF-8 bytes go to the C tokenizer as they are, which is faster than handing it decoded text.
    source: io.IOBase = io.StringIO(text)
    if codecs.lookup(encoding).name in _UTF8_CODECS:
        source = io.BytesIO(data[3:] if data.startswith(codecs.BOM_UTF8) else data)
    try:
        body = pd.read_csv(
            source,
            sep=delimiter,
            header=None,
            skiprows=1,
            dtype=object,
            na_filter=False,
            keep_default_na=False,
            skip_blank_lines=False,
            quotechar=QUOTE_CHAR,
            engine="c",
            low_memory=False,
        )
    except pd.errors.ParserError:
        return _read_records_slow(text, delimiter, path)
    except pd.errors.EmptyDataError:
        body = pd.DataFrame(columns=range(len(header)), dtype=object)
    physical_lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    if len(body) + 1 != physical_lines or len(body.columns) > len(header):
        # A quoted field spans lines (or lines end in bare CR), or a line is longer than the header: the csv
        # module keeps exact line numbers and reports the long lines.
        return _read_records_slow(text, delimiter, path)
    if len(body.columns) < len(header):
        for position in range(len(body.columns), len(header)):
            body[position] = ""
    # Short lines leave their missing trailing fields as NaN even without NA parsing; the last column shows them.
    if len(body) and body[body.columns[-1]].isna().any():
        body = body.fillna("")
    lines = np.arange(2, len(body) + 2, dtype=np.int64)
    return TextRecords(header, body, lines, [], raw_records=joiner(delimiter))


def _read_records_slow(text: str, delimiter: str, path: Path) -> TextRecords:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=QUOTE_CHAR)
    header: list[str] | None = None
    records: list[list[str]] = []
    lines: list[int] = []
    structural: list[tuple[int, str, str]] = []
    line_end = 0
    try:
        for record in reader:
            line = line_end + 1
            line_end = reader.line_num
            if header is None:
                header = record
                continue
            width = len(header)
            if len(record) > width and any(value.strip() for value in record[width:]):
                structural.append((line, f"expected {width} fields, found {len(record)}", delimiter.join(record)))
                continue
            records.append((record + [""] * width)[:width])
            lines.append(line)
    except csv.Error as exc:
        raise FeedError(path, f"line {line_end + 1}", f"unreadable delimited text: {exc}") from exc
    if header is None:
        raise FeedError(path, None, "empty file (no header line)")
    data = pd.DataFrame(records, columns=range(len(header)), dtype=object)
    return TextRecords(header, data, np.asarray(lines, dtype=np.int64), structural, raw_records=joiner(delimiter))


def joiner(delimiter: str) -> Callable[[pd.DataFrame], list[str]]:
    """Renders records as the line they came from (cells joined by the delimiter), for the reject table."""

    def join(rejected: pd.DataFrame) -> list[str]:
        return rejected.astype(object).agg(delimiter.join, axis=1).tolist()

    return join


def clean_header(value: object) -> str:
    return str(value).replace(BOM, "").strip()


def records_to_result(
    table: TextRecords,
    spec: FileSpec,
    partner_id: str,
    source_file_id: str,
    path: Path,
    *,
    default_currency: str | None = None,
    require_rows: bool = True,
) -> ParseResult:
    """Text records of a column-mapped file (CSV, Excel, JSON) into canonical rows and record-level rejects.

    ``require_rows=False`` accepts records without a single data line (they are the rest of a file whose other
    lines were loaded elsewhere, by ``delimited_duckdb``).
    """
    headers = [clean_header(value) for value in table.header]
    positions = locate_columns(headers, spec, path, table.header_location)
    data = table.data
    columns = {position: _Column.of(data[data.columns[position]]) for position in sorted(set(positions.values()))}
    records = np.arange(len(data))
    blank = _blank_records(data, columns)
    if blank is not None:
        records = np.flatnonzero(~blank)
        columns = {position: column.subset(records) for position, column in columns.items()}
    if require_rows and len(records) == 0 and not table.structural_rejects:
        raise FeedError(path, None, f"no data rows after the header {table.unit}")
    return _to_canonical(
        table, records, columns, headers, positions, spec, partner_id, source_file_id, default_currency
    )


def locate_columns(headers: list[str], spec: FileSpec, path: Path, header_location: str | None) -> dict[str, int]:
    """Position of each configured canonical column in the file; raises when a required header is absent."""
    exact: dict[str, int] = {}
    folded: dict[str, int] = {}
    for position, name in enumerate(headers):
        exact.setdefault(name, position)
        folded.setdefault(name.casefold(), position)
    positions: dict[str, int] = {}
    missing: list[str] = []
    for canonical, header in spec.columns.items():
        position = exact.get(header)
        if position is None:
            position = folded.get(header.casefold())
        if position is not None:
            positions[canonical] = position
        elif canonical in REQUIRED_COLUMNS[spec.record_type]:
            missing.append(f"'{header}' ({canonical})")
    if missing:
        found = ", ".join(f"'{name}'" for name in headers)
        raise FeedError(
            path, header_location, f"missing required column(s) {', '.join(missing)}; found headers: {found}"
        )
    return positions


def _blank_records(data: pd.DataFrame, columns: dict[int, _Column]) -> np.ndarray | None:
    """Mask of records whose every cell is blank, or None when there are none (the usual case, found cheaply)."""
    if len(data) == 0 or len(data.columns) == 0:
        return None
    first = columns.get(0) or _Column.of(data[data.columns[0]])
    blank = first.where(first.uniques == "")
    if not blank.any():
        return None
    for position in range(1, len(data.columns)):
        candidates = np.flatnonzero(blank)
        cells = data[data.columns[position]].to_numpy()[candidates]
        blank[candidates] = np.array([not str(value).strip() for value in cells], dtype=bool)
        if not blank.any():
            return None
    return blank


# --- converting columns -------------------------------------------------------------------------------------


@dataclass
class _Column:
    """One file column as its distinct stripped values plus a code per line.

    Conversions run on the distinct values only (dates and store ids repeat on every line), then are spread
    back to all lines with a take: this is what keeps a million-line file to about a second.
    """

    codes: np.ndarray
    uniques: np.ndarray  # object array of stripped strings

    @classmethod
    def of(cls, series: pd.Series) -> _Column:
        codes, uniques = pd.factorize(series)
        stripped = np.array([str(value).strip() for value in uniques], dtype=object)
        return cls(codes, stripped)

    def where(self, unique_mask: np.ndarray) -> np.ndarray:
        """Spread a mask over distinct values to a mask over lines."""
        return unique_mask[self.codes]

    def subset(self, records: np.ndarray) -> _Column:
        return _Column(self.codes[records], self.uniques)


class _Reasons:
    """Collects reject reasons per line without a Python loop over lines (text allocated on first reject)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.text: np.ndarray | None = None

    def add(self, mask: np.ndarray, messages: np.ndarray | str) -> None:
        if not mask.any():
            return
        if self.text is None:
            self.text = _filled(self.size, "")
        index = np.flatnonzero(mask)
        existing = self.text[index]
        self.text[index] = np.where(existing == "", messages, existing + "; " + messages)

    @property
    def rejected(self) -> np.ndarray:
        if self.text is None:
            return np.zeros(self.size, dtype=bool)
        return self.text != ""


def _quoted(column: _Column, mask: np.ndarray, before: str, after: str) -> np.ndarray:
    """Per-line messages "<before>'<value>'<after>" for the lines in ``mask``."""
    return before + "'" + column.uniques[column.codes[mask]] + "'" + after


def _to_canonical(
    table: TextRecords,
    records: np.ndarray,
    columns: dict[int, _Column],
    headers: list[str],
    positions: dict[str, int],
    spec: FileSpec,
    partner_id: str,
    source_file_id: str,
    default_currency: str | None,
) -> ParseResult:
    """Canonical rows from the kept ``records`` (positions into ``table.data``) and their mapped columns."""
    record_type = spec.record_type
    size = len(records)
    lines = table.lines[records]
    reasons = _Reasons(size)
    required = REQUIRED_COLUMNS[record_type]
    values: dict[str, np.ndarray] = {}

    def label(canonical: str) -> str:
        return f"{canonical} ({headers[positions[canonical]]})"

    for canonical in RAW_FEED_COLUMNS[record_type]:
        if canonical in LINEAGE_COLUMNS:
            continue
        position = positions.get(canonical)
        if position is None:
            values[canonical] = constant_or_default(canonical, spec, default_currency, size)
            continue
        column = columns[position]
        blank = column.where(column.uniques == "")
        if canonical in required:
            reasons.add(blank, f"missing {label(canonical)}")
        if canonical in DATE_COLUMNS:
            parsed, bad = _parse_dates(column.uniques, spec.date_format)
            bad_lines = column.where(bad)
            reasons.add(
                bad_lines,
                _quoted(column, bad_lines, "bad date ", f" for format {spec.date_format} in {label(canonical)}"),
            )
            values[canonical] = parsed[column.codes]
        elif canonical in QUANTITY_COLUMNS:
            parsed, bad = _parse_numbers(column.uniques, spec.decimal, spec.thousands)
            bad_lines = column.where(bad)
            reasons.add(bad_lines, _quoted(column, bad_lines, "bad number ", f" in {label(canonical)}"))
            if canonical not in required:
                parsed = np.where(
                    column.uniques == "",
                    constant_or_default(canonical, spec, default_currency, 1)[0],
                    parsed,
                )
            values[canonical] = parsed[column.codes]
        elif canonical in FLAG_COLUMNS:
            parsed, bad = _parse_flags(column.uniques, spec.true_values, spec.false_values)
            bad_lines = column.where(bad)
            reasons.add(bad_lines, _quoted(column, bad_lines, "bad flag ", f" in {label(canonical)}"))
            unknown = np.array([value is pd.NA for value in parsed], dtype=bool)
            flags = np.array([value is True for value in parsed], dtype=bool)
            values[canonical] = pd.arrays.BooleanArray(flags[column.codes], unknown[column.codes])
        else:
            text = column.uniques.copy()
            if canonical not in required:
                text[text == ""] = constant_or_default(canonical, spec, default_currency, 1)[0]
            if canonical == "product_ref" and spec.gtin_mode != "off":
                text = _check_gtins(text, column, spec.gtin_mode, reasons, label(canonical))
            values[canonical] = text[column.codes]

    if record_type == "sales":
        # Daily feeds carry one date; a blank or absent end means a one-day period.
        values["period_end"] = np.where(np.isnat(values["period_end"]), values["period_start"], values["period_end"])

    rejected = reasons.rejected
    keep = None if not rejected.any() else ~rejected
    kept = size if keep is None else int(keep.sum())
    rows = pd.DataFrame(
        {
            canonical: _typed(canonical, values, keep, kept, lines, partner_id, source_file_id)
            for canonical in RAW_FEED_COLUMNS[record_type]
        },
        copy=False,
    )
    render = table.raw_records or joiner(",")
    raw = render(table.data.iloc[records[rejected]]) if rejected.any() else []
    rejects = rejects_frame(
        record_type,
        [
            *zip(
                (int(line) for line in lines[rejected]),
                reasons.text[rejected] if reasons.text is not None else [],
                raw,
                strict=True,
            ),
            *table.structural_rejects,
        ],
        partner_id,
        source_file_id,
    )
    return ParseResult(record_type=record_type, rows=rows, rejects=rejects)


def _check_gtins(text: np.ndarray, column: _Column, mode: str, reasons: _Reasons, label: str) -> np.ndarray:
    """Reject lines whose product ref is not a valid GTIN; when normalising, return the refs as GTIN-14."""
    problems = np.array([gtin_problem(value) or "" if value else "" for value in text], dtype=object)
    bad = problems != ""
    if bad.any():
        bad_lines = column.where(bad)
        reasons.add(bad_lines, problems[column.codes[bad_lines]] + f" in {label}")
    if mode != "normalise":
        return text
    return np.array(
        [value if problem or not value else value.zfill(14) for value, problem in zip(text, problems, strict=True)],
        dtype=object,
    )


def _typed(
    canonical: str,
    values: dict[str, np.ndarray],
    keep: np.ndarray | None,
    kept: int,
    lines: np.ndarray,
    partner_id: str,
    source_file_id: str,
) -> pd.Series:
    if canonical == "partner_id":
        return _typed_series(canonical, _filled(kept, partner_id))
    if canonical == "source_file_id":
        return _typed_series(canonical, _filled(kept, source_file_id))
    if canonical == "source_line":
        return pd.Series(lines if keep is None else lines[keep], dtype="int64")
    selected = values[canonical] if keep is None else values[canonical][keep]
    return _typed_series(canonical, selected)


def _typed_series(canonical: str, values: np.ndarray | Sequence) -> pd.Series:
    """A canonical column with the dtype every parser gives it (text stays Python objects: cheap to load)."""
    if canonical in DATE_COLUMNS:
        return pd.Series(values, dtype="datetime64[s]", copy=False)
    if canonical in QUANTITY_COLUMNS:
        return pd.Series(values, dtype="float64", copy=False)
    if canonical in FLAG_COLUMNS:
        if isinstance(values, pd.arrays.BooleanArray):
            return pd.Series(values, copy=False)
        return pd.Series(values, dtype="boolean")
    if canonical == "source_line":
        return pd.Series(values, dtype="int64", copy=False)
    return pd.Series(values, dtype=object, copy=False)


def constant_or_default(canonical: str, spec: FileSpec, default_currency: str | None, size: int) -> np.ndarray:
    """Column-wide value for a canonical column the file does not carry (or leaves blank on a line)."""
    if canonical in spec.constants:
        value = spec.constants[canonical]
    elif canonical == "currency":
        value = default_currency
    else:
        value = DEFAULT_VALUES.get(canonical)
    if canonical in DATE_COLUMNS:
        return np.full(size, _constant_date(value, spec.date_format), dtype="datetime64[s]")
    if canonical in QUANTITY_COLUMNS:
        return np.full(size, np.nan if value is None else float(value), dtype=float)
    if canonical in FLAG_COLUMNS:
        unknown = value is None or value is pd.NA
        return pd.arrays.BooleanArray(np.full(size, not unknown and bool(value)), np.full(size, unknown))
    return _filled(size, None if value is None else str(value))


def _filled(size: int, value: object) -> np.ndarray:
    """An object array holding ``value`` everywhere (``np.full`` is an order of magnitude slower for objects)."""
    array = np.empty(size, dtype=object)
    array.fill(value)
    return array


def _constant_date(value: object, date_format: str) -> np.datetime64:
    if value is None:
        return np.datetime64("NaT", "s")
    if isinstance(value, date):
        return np.datetime64(value, "D").astype("datetime64[s]")
    text = str(value)
    for form in (date_format, "%Y-%m-%d"):
        try:
            return np.datetime64(datetime.strptime(text, form).date(), "D").astype("datetime64[s]")
        except ValueError:
            continue
    return np.datetime64("NaT", "s")


def _parse_dates(uniques: np.ndarray, date_format: str) -> tuple[np.ndarray, np.ndarray]:
    """Distinct texts as datetime64[s] days (NaT when blank or bad) and the mask of texts that failed."""
    parsed = pd.to_datetime(pd.Series(uniques, dtype=object), format=date_format, errors="coerce")
    days = parsed.dt.normalize().to_numpy(dtype="datetime64[s]")
    return days, np.isnat(days) & (uniques != "")


def _parse_numbers(uniques: np.ndarray, decimal: str, thousands: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct texts as floats (NaN when blank or bad) and the mask of texts that are not numbers."""
    text = pd.Series(uniques, dtype=object)
    for blank in _BLANKS:
        text = text.str.replace(blank, "", regex=False)
    if thousands:
        text = text.str.replace(thousands, "", regex=False)
    if decimal != ".":
        text = text.str.replace(decimal, ".", regex=False)
    # ERP exports (SAP among them) write negatives with a trailing minus: "12-".
    trailing_minus = text.str.endswith("-") & (text.str.len() > 1)
    text = text.where(~trailing_minus, "-" + text.str[:-1])
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    finite = np.isfinite(numbers)
    return np.where(finite, numbers, np.nan), ~finite & (uniques != "")


def _parse_flags(
    uniques: np.ndarray, true_values: Iterable[str], false_values: Iterable[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct texts as True/False/NA and the mask of texts that are neither a true nor a false value."""
    lookup = {value.casefold(): True for value in true_values} | {value.casefold(): False for value in false_values}
    mapped = np.array([lookup.get(value.casefold(), pd.NA) for value in uniques], dtype=object)
    bad = np.array([value != "" and value.casefold() not in lookup for value in uniques], dtype=bool)
    return mapped, bad


# --- frames shared by every parser --------------------------------------------------------------------------


def rejects_frame(
    record_type: str,
    rejects: Iterable[tuple[int, str, str]],
    partner_id: str,
    source_file_id: str,
) -> pd.DataFrame:
    """Rejects as ``REJECT_COLUMNS``, ordered by line: each is (line, reason, raw record)."""
    listed = list(rejects)
    count = len(listed)
    frame = pd.DataFrame(
        {
            "source_file_id": pd.Series([source_file_id] * count, dtype=object),
            "partner_id": pd.Series([partner_id] * count, dtype=object),
            "record_type": pd.Series([record_type] * count, dtype=object),
            "source_line": pd.Series([line for line, _, _ in listed], dtype="int64"),
            "reason": pd.Series([reason for _, reason, _ in listed], dtype=object),
            "raw_record": pd.Series([raw for _, _, raw in listed], dtype=object),
        },
        columns=list(REJECT_COLUMNS),
    )
    return frame.sort_values("source_line", kind="stable").reset_index(drop=True)


def result_from_records(
    record_type: str,
    records: Sequence[Mapping[str, object]],
    rejects: Iterable[tuple[int, str, str]],
    partner_id: str,
    source_file_id: str,
    *,
    constants: Mapping[str, object] | None = None,
    default_currency: str | None = None,
) -> ParseResult:
    """Rows already assembled field by field (by the EDI parsers) as a typed :class:`ParseResult`.

    Each record maps canonical columns to Python values (dates as ``date``) and must carry ``source_line``;
    columns it leaves out take the spec's constant, the partner's currency or the canonical default.
    """
    constants = constants or {}
    columns: dict[str, pd.Series] = {}
    count = len(records)
    for canonical in RAW_FEED_COLUMNS[record_type]:
        if canonical == "partner_id":
            values: list = [partner_id] * count
        elif canonical == "source_file_id":
            values = [source_file_id] * count
        else:
            if canonical in constants:
                fallback = constants[canonical]
            elif canonical == "currency":
                fallback = default_currency
            else:
                fallback = DEFAULT_VALUES.get(canonical)
            values = [record.get(canonical, fallback) for record in records]
            if canonical in DATE_COLUMNS:
                values = [np.datetime64(value, "D") if value is not None else np.datetime64("NaT") for value in values]
            elif canonical in QUANTITY_COLUMNS:
                values = [np.nan if value is None else float(value) for value in values]
        columns[canonical] = _typed_series(canonical, values)
    rows = pd.DataFrame(columns, columns=list(RAW_FEED_COLUMNS[record_type]))
    return ParseResult(record_type, rows, rejects_frame(record_type, rejects, partner_id, source_file_id))


# --- rows assembled from EDI measures -----------------------------------------------------------------------


@dataclass
class _MeasureRow:
    record_type: str
    location_id: str | None
    product_ref: str | None
    period: tuple[date, date]
    line: int
    measures: dict[str, tuple[float, int, str]] = field(default_factory=dict)  # measure -> (value, segment, code)
    uom: str | None = None
    problems: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)


class MeasureRows:
    """Canonical stock and sales rows assembled from EDI measures, one row per record type, store, item and period.

    X12 and EDIFACT report a quantity per activity or quantity code (an 852 ``ZA*QS`` spread by ``SDQ``, an 846
    ``QTY*33``, an EANCOM ``QTY+145``); each code maps to a canonical measure, and the measures of one store, item
    and period make one row. Problems found on the way (a bad GTIN, no store, a quantity that is not a number, the
    same measure twice) reject the whole row with every reason, never part of it. EDI reports leave out zero
    activity, so a sales row without a sold quantity sold nothing; a stock row without an on-hand count is rejected.
    """

    def __init__(
        self,
        partner_id: str,
        source_file_id: str,
        codes_by_measure: Mapping[str, Sequence[str]],
        *,
        constants: Mapping[str, object] | None = None,
        default_currency: str | None = None,
    ) -> None:
        self.partner_id = partner_id
        self.source_file_id = source_file_id
        self.codes_by_measure = codes_by_measure
        self.constants = dict(constants or {})
        self.default_currency = default_currency
        self._rows: dict[tuple, _MeasureRow] = {}

    def add(
        self,
        measure: str,
        code: str,
        quantity: str,
        *,
        location_id: str | None,
        product_ref: str | None,
        period: tuple[date, date],
        segment: int,
        raw: Sequence[str],
        problems: Sequence[str] = (),
        uom: str | None = None,
    ) -> None:
        """One reported quantity (text as sent, decimal point '.') of ``measure`` for a store, item and period."""
        record_type = MEASURES[measure]
        location_id = location_id or self.constants.get("location_id")
        key_period = period if record_type == "sales" else (period[1], period[1])
        key = (record_type, location_id, product_ref, key_period)
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = _MeasureRow(record_type, location_id, product_ref, key_period, segment)
        for text in raw:
            if text not in row.raw:
                row.raw.append(text)
        for problem in problems:
            if problem not in row.problems:
                row.problems.append(problem)
        if not location_id and "no store given for this quantity" not in row.problems:
            row.problems.append("no store given for this quantity")
        if uom and row.uom is None:
            row.uom = uom
        try:
            value = float(quantity)
            if not np.isfinite(value):
                raise ValueError(quantity)
        except ValueError:
            row.problems.append(f"bad quantity '{quantity}' for {code} at segment {segment}")
            return
        if measure in row.measures:
            _, first_segment, first_code = row.measures[measure]
            row.problems.append(
                f"{measure} reported twice for this item and store ({first_code} at segment {first_segment}, "
                f"{code} at segment {segment})"
            )
            return
        row.measures[measure] = (value, segment, code)

    def results(self) -> dict[str, ParseResult]:
        """Stock and sales results (each present, possibly empty), rows in the order they were first reported."""
        records: dict[str, list[dict]] = {"stock": [], "sales": []}
        rejects: dict[str, list[tuple[int, str, str]]] = {"stock": [], "sales": []}
        for row in sorted(self._rows.values(), key=lambda item: item.line):
            problems = list(row.problems)
            if row.record_type == "stock" and "on_hand_qty" not in row.measures and not problems:
                codes = "/".join(self.codes_by_measure.get("on_hand_qty", ())) or "none mapped"
                problems.append(f"no on-hand quantity ({codes}) reported for this item and store")
            if problems:
                rejects[row.record_type].append((row.line, "; ".join(problems), "\n".join(row.raw)))
                continue
            values = {measure: value for measure, (value, _, _) in row.measures.items()}
            record: dict[str, object] = {
                "location_id": row.location_id,
                "product_ref": row.product_ref,
                "source_line": row.line,
                **values,
            }
            if row.record_type == "stock":
                record["as_of_date"] = row.period[1]
                if row.uom:
                    record["uom"] = row.uom
            else:
                record["period_start"], record["period_end"] = row.period
                record.setdefault("units_sold", 0.0)
            records[row.record_type].append(record)
        return {
            record_type: result_from_records(
                record_type,
                records[record_type],
                rejects[record_type],
                self.partner_id,
                self.source_file_id,
                constants=self.constants,
                default_currency=self.default_currency,
            )
            for record_type in ("stock", "sales")
        }
