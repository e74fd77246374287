"""Delimited partner files (CSV, semicolon, tab) into canonical rows: reading the text, then the column pipeline.

File in, canonical rows out: the partner's headers, date format, decimal and thousands marks and encoding
come from its :class:`FileSpec`; every conversion is vectorised over whole columns, so a million-line file
parses in about a second. Problems with the file as a whole raise :class:`FeedError` (the loader quarantines
the file); problems with single lines become rejects with the physical line number, and the rest of the file is
kept. Values are kept as sent (negative sales are returns, not errors): judging them is the quality layer's job.

How a cell is judged and converted, and the reason text of a cell that cannot be used, is the business of
``cell_rules.py``; here each column's distinct texts go through its rule once and the outcome is spread to the
lines. The same column pipeline (:func:`records_to_result`) reads Excel and JSON (``tabular.py`` turns them into
text cells first) and the lines DuckDB's fast path refuses (``assets/feeds/loading/delimited_duckdb.py``), so
every column-mapped format yields the same :class:`~assets.feeds.parsers.results.ParseResult` frames.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from assets.feeds.contracts import RAW_FEED_COLUMNS
from assets.feeds.errors import FeedError
from assets.feeds.parsers.cell_rules import CellRule, cell_rules, fill_one_day_periods, filled
from assets.feeds.parsers.chunked_text import CHUNK_BYTES, TextScan, scan_text, stream_codec
from assets.feeds.parsers.promotions import arrival_day, judge_promotions
from assets.feeds.parsers.results import ParseResult, rejects_frame, typed_series
from assets.feeds.partner_config import REQUIRED_COLUMNS, FileSpec

QUOTE_CHAR = '"'
BOM = "\ufeff"
_UTF8_CODECS = ("utf-8", "utf-8-sig")
# Lines pandas reads at a time: a chunk's cells as Python strings take some hundred MB, whatever the file's size.
CHUNK_LINES = 250_000


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
    scan = _checked_text(path, spec.encoding)

    def convert(table: TextRecords, require_rows: bool = True) -> ParseResult:
        return records_to_result(
            table, spec, partner_id, source_file_id, path, default_currency=default_currency, require_rows=require_rows
        )

    try:
        return _joined(convert, _record_chunks(path, spec.encoding, spec.delimiter, scan), path)
    except _NotOneLinePerRecord:
        with _open_text(path, spec.encoding) as text:
            return convert(_read_records_slow(text, spec.delimiter, path))


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


class _NotOneLinePerRecord(Exception):
    """pandas cannot split this file one record per line: the csv module reads it instead."""


def _checked_text(path: Path, encoding: str) -> TextScan:
    """The file's text checked a chunk at a time, with the errors :func:`decode_text` gives for the whole text."""
    if path.stat().st_size == 0:
        raise FeedError(path, None, "empty file (0 bytes)")
    try:
        scan = scan_text(path, encoding)
    except UnicodeError as exc:
        raise FeedError(path, None, f"cannot decode as {encoding}: {exc}") from exc
    if scan.error is not None:
        exc = scan.error
        with path.open("rb") as file:
            head = file.read(2)
            file.seek(exc.start)
            bad = file.read(4).hex(" ")
        hint = (
            "; the file starts with a UTF-16 byte order mark"
            if head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
            else ""
        )
        raise FeedError(
            path,
            f"line {_newlines_before(path, exc.start) + 1}",
            f"cannot decode as {encoding} at byte offset {exc.start} (bytes {bad}): {exc.reason}{hint}",
        )
    if scan.blank:
        raise FeedError(path, None, "empty file (no text)")
    return scan


def _newlines_before(path: Path, offset: int) -> int:
    count = 0
    with path.open("rb") as file:
        while offset > 0:
            data = file.read(min(CHUNK_BYTES, offset))
            if not data:
                break
            count += data.count(b"\n")
            offset -= len(data)
    return count


def _open_text(path: Path, encoding: str) -> io.TextIOWrapper:
    """The file as text (line ends kept as sent), without a leading byte order mark."""
    text = io.TextIOWrapper(path.open("rb"), encoding=stream_codec(path, encoding), newline="")
    if text.read(1) != BOM:
        text.seek(0)
    return text


def _record_chunks(path: Path, encoding: str, delimiter: str, scan: TextScan) -> Iterator[TextRecords]:
    """The file's records, :data:`CHUNK_LINES` at a time, when each record is one line (pandas splits them).

    Raises :class:`_NotOneLinePerRecord` (possibly after some chunks) when a quoted field spans lines, lines end in
    bare CR, or a line is longer than the header: the csv module keeps exact line numbers and reports long lines.
    """
    with _open_text(path, encoding) as text:
        header = next(csv.reader(text, delimiter=delimiter, quotechar=QUOTE_CHAR), None)
    if header is None:
        raise FeedError(path, None, "empty file (no header line)")
    # UTF-8 bytes go to the C tokenizer as they are, which is faster than handing it decoded text.
    utf8 = codecs.lookup(encoding).name in _UTF8_CODECS
    with path.open("rb") if utf8 else _open_text(path, encoding) as source:
        if utf8 and source.read(3) != codecs.BOM_UTF8:
            source.seek(0)
        records = 0
        try:
            reader = pd.read_csv(
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
                chunksize=CHUNK_LINES,
            )
            for body in reader:
                if len(body.columns) > len(header):
                    raise _NotOneLinePerRecord
                yield _line_records(header, body, records, delimiter)
                records += len(body)
        except pd.errors.EmptyDataError:
            pass
        except pd.errors.ParserError as exc:
            raise _NotOneLinePerRecord from exc
    if records == 0:
        yield TextRecords(header, pd.DataFrame(columns=range(len(header)), dtype=object), np.arange(0, dtype=np.int64))
    if records + 1 != scan.physical_lines:
        raise _NotOneLinePerRecord


def _line_records(header: list[str], body: pd.DataFrame, before: int, delimiter: str) -> TextRecords:
    """One chunk of one-line records, ``before`` records after the header."""
    if len(body.columns) < len(header):
        for position in range(len(body.columns), len(header)):
            body[position] = ""
    # Short lines leave their missing trailing fields as NaN even without NA parsing; the last column shows them.
    if len(body) and body[body.columns[-1]].isna().any():
        body = body.fillna("")
    body = body.reset_index(drop=True)
    lines = np.arange(before + 2, before + len(body) + 2, dtype=np.int64)
    return TextRecords(header, body, lines, [], raw_records=joiner(delimiter))


def _joined(convert: Callable[..., ParseResult], tables: Iterator[TextRecords], path: Path) -> ParseResult:
    """Each chunk converted as it is read, the results put together as one file's.

    A problem with the file as a whole found in the first chunk (a missing column) is raised only once the whole
    file is known to be one record per line: otherwise the csv module's reading, and its errors, come first.
    """
    results: list[ParseResult] = []
    problem: FeedError | None = None
    for table in tables:
        if problem is not None:
            continue
        try:
            results.append(convert(table, require_rows=False))
        except FeedError as exc:
            problem = exc
    if problem is not None:
        raise problem
    if not any(result.rows_parsed or result.rows_rejected for result in results):
        raise FeedError(path, None, "no data rows after the header line")
    if len(results) == 1:
        return results[0]
    first = results[0]
    rows = pd.concat([result.rows for result in results], ignore_index=True)
    rejects = pd.concat([result.rejects for result in results], ignore_index=True)
    return ParseResult(first.record_type, rows, rejects)


def _read_records_slow(text: Iterable[str], delimiter: str, path: Path) -> TextRecords:
    """Records by the csv module, from text whose line ends are kept as sent (exact line numbers, long lines)."""
    reader = csv.reader(text, delimiter=delimiter, quotechar=QUOTE_CHAR)
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
    columns = {
        position: DistinctColumn.of(data[data.columns[position]]) for position in sorted(set(positions.values()))
    }
    records = np.arange(len(data))
    blank = _blank_records(data, columns)
    if blank is not None:
        records = np.flatnonzero(~blank)
        columns = {position: column.subset(records) for position, column in columns.items()}
    if require_rows and len(records) == 0 and not table.structural_rejects:
        raise FeedError(path, None, f"no data rows after the header {table.unit}")
    return _to_canonical(
        table, records, columns, headers, positions, spec, partner_id, source_file_id, default_currency, path
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


def _blank_records(data: pd.DataFrame, columns: dict[int, DistinctColumn]) -> np.ndarray | None:
    """Mask of records whose every cell is blank, or None when there are none (the usual case, found cheaply)."""
    if len(data) == 0 or len(data.columns) == 0:
        return None
    first = columns.get(0) or DistinctColumn.of(data[data.columns[0]])
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
class DistinctColumn:
    """One file column as its distinct stripped values plus a code per line.

    Conversions run on the distinct values only (dates and store ids repeat on every line), then are spread
    back to all lines with a take: this is what keeps a million-line file to about a second.
    """

    codes: np.ndarray
    uniques: np.ndarray  # object array of stripped strings

    @classmethod
    def of(cls, series: pd.Series) -> DistinctColumn:
        codes, uniques = pd.factorize(series)
        stripped = np.array([str(value).strip() for value in uniques], dtype=object)
        return cls(codes, stripped)

    def where(self, unique_mask: np.ndarray) -> np.ndarray:
        """Spread a mask over distinct values to a mask over lines."""
        return unique_mask[self.codes]

    def subset(self, records: np.ndarray) -> DistinctColumn:
        return DistinctColumn(self.codes[records], self.uniques)


class RejectReasons:
    """Collects reject reasons per line without a Python loop over lines (text allocated on first reject).

    A line rejected for several columns gets their reasons joined by "; ", in column order.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.text: np.ndarray | None = None

    def add(self, mask: np.ndarray, messages: np.ndarray | str) -> None:
        if not mask.any():
            return
        if self.text is None:
            self.text = filled(self.size, "")
        index = np.flatnonzero(mask)
        existing = self.text[index]
        self.text[index] = np.where(existing == "", messages, existing + "; " + messages)

    @property
    def rejected(self) -> np.ndarray:
        if self.text is None:
            return np.zeros(self.size, dtype=bool)
        return self.text != ""


def _to_canonical(
    table: TextRecords,
    records: np.ndarray,
    columns: dict[int, DistinctColumn],
    headers: list[str],
    positions: dict[str, int],
    spec: FileSpec,
    partner_id: str,
    source_file_id: str,
    default_currency: str | None,
    path: Path,
) -> ParseResult:
    """Canonical rows from the kept ``records`` (positions into ``table.data``) and their mapped columns."""
    record_type = spec.record_type
    size = len(records)
    lines = table.lines[records]
    reasons = RejectReasons(size)
    values: dict[str, np.ndarray] = {}
    rule: CellRule
    for canonical, rule in cell_rules(spec, default_currency).items():
        position = positions.get(canonical)
        if position is None:
            values[canonical] = rule.absent(size)
            continue
        column = columns[position]
        judged = rule.judge(column.uniques, f"{canonical} ({headers[position]})")
        if judged.reasons is not None:
            bad_lines = column.where(judged.reasons != "")
            reasons.add(bad_lines, judged.reasons[column.codes[bad_lines]])
        values[canonical] = judged.values[column.codes]
    fill_one_day_periods(values)
    if record_type == "promotion":
        judge_promotions(values, spec, reasons.add, arrival_day(path))

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
        return typed_series(canonical, filled(kept, partner_id))
    if canonical == "source_file_id":
        return typed_series(canonical, filled(kept, source_file_id))
    if canonical == "source_line":
        return pd.Series(lines if keep is None else lines[keep], dtype="int64")
    if canonical == "merged_lines":  # one line, one row: nothing merged
        return pd.Series([pd.NA] * kept, dtype="Int64")
    selected = values[canonical] if keep is None else values[canonical][keep]
    return typed_series(canonical, selected)
