"""Delimited partner files (CSV, semicolon, tab) into canonical rows.

File in, canonical rows out: the partner's headers, date format, decimal and thousands marks and encoding
come from its :class:`FileSpec`; every conversion is vectorised over whole columns, so a million-line file
parses in seconds. Problems with the file as a whole raise :class:`FeedError` (the loader quarantines the
file); problems with single lines become rejects with the physical line number, and the rest of the file is
kept. Values are kept as sent (negative sales are returns, not errors): judging them is the quality
layer's job.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from assets.feeds.contracts import RAW_FEED_COLUMNS, REJECT_COLUMNS
from assets.feeds.errors import FeedError
from assets.feeds.partner_config import LINEAGE_COLUMNS, REQUIRED_COLUMNS, FileSpec

DATE_COLUMNS = frozenset(
    {"as_of_date", "period_start", "period_end", "forecast_date", "target_period_start", "target_period_end"}
)
QUANTITY_COLUMNS = frozenset(
    {
        "on_hand_qty",
        "on_order_qty",
        "in_transit_qty",
        "units_sold",
        "units_returned",
        "net_sales_amount",
        "forecast_qty",
    }
)
FLAG_COLUMNS = frozenset({"promo_flag"})

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


@dataclass
class ParseResult:
    """Canonical rows of one file plus the lines that could not be used.

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
    text = _decode(path.read_bytes(), spec.encoding, path)
    table = _read_records(text, spec.delimiter, path)
    headers = [_clean_header(value) for value in table.header]
    positions = _locate_columns(headers, spec, path)
    data, lines = _drop_blank_lines(table.data, table.lines)
    if len(data) == 0 and not table.structural_rejects:
        raise FeedError(path, None, "no data rows after the header line")
    return _to_canonical(data, lines, table, headers, positions, spec, partner_id, source_file_id, default_currency)


# --- reading the file ---------------------------------------------------------------------------------------


@dataclass
class _Records:
    header: list[str]
    data: pd.DataFrame  # raw text, integer column positions, one row per data record
    lines: np.ndarray  # physical line where each data record starts (header is line 1)
    structural_rejects: list[tuple[int, str, str]]  # (line, reason, raw record)


def _decode(data: bytes, encoding: str, path: Path) -> str:
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


def _read_records(text: str, delimiter: str, path: Path) -> _Records:
    """Split text into records: pandas when each record is one line, else the csv module (exact, slower)."""
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            header=None,
            dtype=str,
            na_filter=False,
            keep_default_na=False,
            skip_blank_lines=False,
            quotechar=QUOTE_CHAR,
            engine="c",
        )
    except pd.errors.ParserError:
        return _read_records_slow(text, delimiter, path)
    except pd.errors.EmptyDataError as exc:
        raise FeedError(path, None, "empty file (no header line)") from exc
    physical_lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    if len(frame) != physical_lines:
        # A quoted field spans lines (or lines end in bare CR): record numbers are not line numbers any more.
        return _read_records_slow(text, delimiter, path)
    frame = frame.fillna("")
    header = frame.iloc[0].tolist()
    data = frame.iloc[1:].reset_index(drop=True)
    lines = np.arange(2, len(frame) + 1, dtype=np.int64)
    return _Records(header, data, lines, [])


def _read_records_slow(text: str, delimiter: str, path: Path) -> _Records:
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
    data = pd.DataFrame(records, columns=range(len(header)), dtype=str)
    return _Records(header, data, np.asarray(lines, dtype=np.int64), structural)


def _clean_header(value: str) -> str:
    return value.replace(BOM, "").strip()


def _locate_columns(headers: list[str], spec: FileSpec, path: Path) -> dict[str, int]:
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
        raise FeedError(path, "line 1", f"missing required column(s) {', '.join(missing)}; found headers: {found}")
    return positions


def _drop_blank_lines(data: pd.DataFrame, lines: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    if len(data) == 0:
        return data, lines
    blank = _is_blank(data[0])
    if not blank.any():
        return data, lines
    for column in data.columns[1:]:
        blank[blank] &= _is_blank(data.loc[blank, column])
    keep = ~blank
    return data.loc[keep].reset_index(drop=True), lines[keep]


def _is_blank(series: pd.Series) -> np.ndarray:
    codes, uniques = pd.factorize(series)
    return np.array([not value.strip() for value in uniques], dtype=bool)[codes]


# --- converting columns -------------------------------------------------------------------------------------


@dataclass
class _Column:
    """One file column as its distinct stripped values plus a code per line.

    Conversions run on the distinct values only (dates and store ids repeat on every line), then are spread
    back to all lines with a take: this is what keeps a million-line file to seconds.
    """

    codes: np.ndarray
    uniques: np.ndarray  # object array of stripped strings

    @classmethod
    def of(cls, series: pd.Series) -> _Column:
        codes, uniques = pd.factorize(series)
        stripped = np.array([value.strip() for value in uniques], dtype=object)
        return cls(codes, stripped)

    def where(self, unique_mask: np.ndarray) -> np.ndarray:
        """Spread a mask over distinct values to a mask over lines."""
        return unique_mask[self.codes]


class _Reasons:
    """Collects reject reasons per line without a Python loop over lines (text allocated on first reject)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.text: np.ndarray | None = None

    def add(self, mask: np.ndarray, messages: np.ndarray | str) -> None:
        if not mask.any():
            return
        if self.text is None:
            self.text = np.full(self.size, "", dtype=object)
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
    data: pd.DataFrame,
    lines: np.ndarray,
    table: _Records,
    headers: list[str],
    positions: dict[str, int],
    spec: FileSpec,
    partner_id: str,
    source_file_id: str,
    default_currency: str | None,
) -> ParseResult:
    record_type = spec.record_type
    size = len(data)
    reasons = _Reasons(size)
    required = REQUIRED_COLUMNS[record_type]
    values: dict[str, np.ndarray] = {}
    columns: dict[int, _Column] = {}

    def label(canonical: str) -> str:
        return f"{canonical} ({headers[positions[canonical]]})"

    for canonical in RAW_FEED_COLUMNS[record_type]:
        if canonical in LINEAGE_COLUMNS:
            continue
        position = positions.get(canonical)
        if position is None:
            values[canonical] = _constant_or_default(canonical, spec, default_currency, size)
            continue
        if position not in columns:
            columns[position] = _Column.of(data[position])
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
                    _constant_or_default(canonical, spec, default_currency, 1)[0],
                    parsed,
                )
            values[canonical] = parsed[column.codes]
        elif canonical in FLAG_COLUMNS:
            parsed, bad = _parse_flags(column.uniques, spec.true_values, spec.false_values)
            bad_lines = column.where(bad)
            reasons.add(bad_lines, _quoted(column, bad_lines, "bad flag ", f" in {label(canonical)}"))
            values[canonical] = parsed[column.codes]
        else:
            text = column.uniques.copy()
            if canonical not in required:
                text[text == ""] = _constant_or_default(canonical, spec, default_currency, 1)[0]
            values[canonical] = text[column.codes]

    if record_type == "sales":
        # Daily feeds carry one date; a blank or absent end means a one-day period.
        values["period_end"] = np.where(np.isnat(values["period_end"]), values["period_start"], values["period_end"])

    rejected = reasons.rejected
    keep = ~rejected
    kept = int(keep.sum())
    rows = pd.DataFrame(
        {
            canonical: _typed(canonical, values, keep, kept, lines, partner_id, source_file_id)
            for canonical in RAW_FEED_COLUMNS[record_type]
        }
    )
    rejects = _rejects_frame(
        data.loc[rejected],
        lines[rejected],
        reasons.text[rejected] if reasons.text is not None else np.array([], dtype=object),
        table.structural_rejects,
        spec,
        partner_id,
        source_file_id,
    )
    return ParseResult(record_type=record_type, rows=rows, rejects=rejects)


def _typed(
    canonical: str,
    values: dict[str, np.ndarray],
    keep: np.ndarray,
    kept: int,
    lines: np.ndarray,
    partner_id: str,
    source_file_id: str,
) -> pd.Series:
    if canonical == "partner_id":
        return pd.Series(np.full(kept, partner_id, dtype=object), dtype=str)
    if canonical == "source_file_id":
        return pd.Series(np.full(kept, source_file_id, dtype=object), dtype=str)
    if canonical == "source_line":
        return pd.Series(lines[keep], dtype="int64")
    selected = values[canonical][keep]
    if canonical in DATE_COLUMNS:
        return pd.Series(selected, dtype="datetime64[s]")
    if canonical in QUANTITY_COLUMNS:
        return pd.Series(selected, dtype="float64")
    if canonical in FLAG_COLUMNS:
        return pd.Series(selected, dtype="boolean")
    return pd.Series(selected, dtype=str)


def _constant_or_default(canonical: str, spec: FileSpec, default_currency: str | None, size: int) -> np.ndarray:
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
        return np.full(size, pd.NA if value is None or value is pd.NA else bool(value), dtype=object)
    return np.full(size, None if value is None else str(value), dtype=object)


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


def _rejects_frame(
    rejected: pd.DataFrame,
    lines: np.ndarray,
    reasons: np.ndarray,
    structural: list[tuple[int, str, str]],
    spec: FileSpec,
    partner_id: str,
    source_file_id: str,
) -> pd.DataFrame:
    raw_records = rejected.astype(object).agg(spec.delimiter.join, axis=1).tolist() if len(rejected) else []
    line_list = [int(line) for line in lines] + [line for line, _, _ in structural]
    reason_list = list(reasons) + [reason for _, reason, _ in structural]
    raw_list = raw_records + [raw for _, _, raw in structural]
    count = len(line_list)
    frame = pd.DataFrame(
        {
            "source_file_id": pd.Series([source_file_id] * count, dtype=str),
            "partner_id": pd.Series([partner_id] * count, dtype=str),
            "record_type": pd.Series([spec.record_type] * count, dtype=str),
            "source_line": pd.Series(line_list, dtype="int64"),
            "reason": pd.Series(reason_list, dtype=str),
            "raw_record": pd.Series(raw_list, dtype=str),
        },
        columns=list(REJECT_COLUMNS),
    )
    return frame.sort_values("source_line", kind="stable").reset_index(drop=True)
