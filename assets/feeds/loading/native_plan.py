"""Whether DuckDB's CSV reader may load a delimited file exactly as the pandas path would: the fast path's planner.

:func:`plan_native_read` decides from a :class:`~assets.feeds.loading.byte_profile.ByteProfile` of the bytes
(gathered while the loader hashes the file, without holding it in memory) and the partner's file spec: UTF-8 (with
or without BOM), one kind of line ending, no NUL, a header on line 1, no blanks around quoted fields, cells whose
rules have an exact SQL form (``cell_rules.sql_refusal``: a date format of ``%Y``, ``%m``, ``%d`` and separators,
GTIN checks off). It counts the physical lines. A file it cannot vouch for raises
:class:`NativeReadUnsupported` and takes the pandas path; a file unusable on either path raises ``FeedError`` with
the pandas path's message.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path

import numpy as np

from assets.feeds.contracts import DATE_COLUMNS
from assets.feeds.errors import FeedError
from assets.feeds.loading.byte_profile import CONTROL_CODES, HEAD_BYTES, ByteProfile
from assets.feeds.parsers.cell_rules import ASCII_SPACES, SQL_NUMBER_UNSAFE, sql_refusal
from assets.feeds.parsers.delimited import QUOTE_CHAR, clean_header, decode_text, locate_columns
from assets.feeds.partner_config import FileSpec

# Extra columns read past the header: a trailing delimiter (or two) still reads natively; a longer line makes
# DuckDB raise and the file takes the pandas path, which reports it as a structural reject.
EXTRA_COLUMNS = 2
# DuckDB reads a cell equal to ``nullstr`` as NULL. Padding of short lines is NULL too, so with a value no file
# holds (files containing it are refused), NULL means "no such field" and '' an empty field.
NULL_TEXT = "\x01"


class NativeReadUnsupported(Exception):
    """This file needs the pandas path; ``reason`` says why (for logs and tests)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class NativeRead:
    """What the up-front look at one file found: enough to read it with DuckDB exactly as the pandas path would."""

    path: Path
    spec: FileSpec
    header: list[str]  # as the file has it, for the reject records of the pandas pipeline
    headers: list[str]  # cleaned, as columns are matched and named in reasons
    positions: dict[str, int]  # canonical column -> position in the line
    new_line: str  # as DuckDB's ``new_line`` option spells it
    lines: int  # physical lines, header included
    blanks: str  # "none" | "spaces" | "any": which white space may surround a cell
    number_guards: tuple[str, ...]  # characters a cell must not hold to be read as a number by DuckDB
    sha256: str = field(repr=False, compare=False)  # of the bytes planned on
    extra_columns: int = EXTRA_COLUMNS  # read past the header's fields
    # Whether DuckDB's reader converts the date cells itself (``strptime``, as the SQL would): a line whose date
    # does not convert it skips and records, and the line is refused like any other. See _reader_converts_dates.
    typed_dates: bool = False

    @property
    def width(self) -> int:
        return len(self.header)

    @property
    def crlf(self) -> bool:
        return self.new_line == "\\r\\n"

    @cached_property
    def data(self) -> bytes:
        """The file's bytes, read when its empty or its refused lines are needed: still the ones planned on."""
        return read_planned_bytes(self.path, self.sha256)

    @cached_property
    def line_ends(self) -> np.ndarray:
        """Offsets of every "\\n" in the file."""
        return np.flatnonzero(np.frombuffer(self.data, dtype=np.uint8) == ord("\n"))

    @cached_property
    def empty_lines(self) -> np.ndarray:
        """Numbers of the empty lines after the header (DuckDB skips them); looked for only when needed."""
        ends = self.line_ends
        if len(ends) < 2:
            return np.zeros(0, dtype=np.int64)
        lengths = ends[1:] - (ends[:-1] + 1)
        return np.flatnonzero(lengths == (1 if self.crlf else 0)) + 2  # 1-based; the header is line 1

    def line_text(self, line: int) -> str:
        """A line of the file (>= 2: after the header), without its line end."""
        ends, data = self.line_ends, self.data
        begin = int(ends[line - 2]) + 1
        end = int(ends[line - 1]) if line - 1 < len(ends) else len(data)
        return data[begin : end - 1 if self.crlf and end < len(data) else end].decode("utf-8")


def read_planned_bytes(path: Path, sha256: str) -> bytes:
    """The file's bytes, which must be those it was planned on (the file may have been replaced since)."""
    data = Path(path).read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise NativeReadUnsupported("the file changed while it was being loaded")
    return data


# --- deciding up front --------------------------------------------------------------------------------------


def plan_native_read(path: Path, profile: ByteProfile, spec: FileSpec, sha256: str) -> NativeRead:
    """Check that DuckDB can read the file (``profile`` of its bytes, hashed ``sha256``) as the pandas path would.

    Raises FeedError for what makes the file unusable on either path (empty, undecodable, missing required
    headers), with the pandas path's message; NativeReadUnsupported when only the pandas path can read it.
    """
    path = Path(path)
    if spec.format != "csv":
        raise NativeReadUnsupported(f"format {spec.format} is not delimited text")
    if codecs.lookup(spec.encoding).name not in ("utf-8", "utf-8-sig"):
        raise NativeReadUnsupported(f"encoding {spec.encoding} is not UTF-8")
    refusal = sql_refusal(spec)
    if refusal is not None:
        raise NativeReadUnsupported(refusal)
    delimiter = spec.delimiter
    if len(delimiter) != 1 or delimiter in f"{QUOTE_CHAR}\r\n{NULL_TEXT}\x00" or not delimiter.isascii():
        raise NativeReadUnsupported(f"delimiter {delimiter!r}")
    if profile.delimiter != delimiter:
        raise ValueError(f"profile made for delimiter {profile.delimiter!r}, file spec has {delimiter!r}")
    profile.close()
    if profile.failure is not None:
        raise profile.failure

    if not profile.size:
        raise FeedError(path, None, "empty file (0 bytes)")
    if profile.ascii:
        if not profile.text_surely and not profile.low[CONTROL_CODES].any():
            raise FeedError(path, None, "empty file (no text)")
    elif not profile.utf8 or not profile.text_surely:
        decode_text(read_planned_bytes(path, sha256), spec.encoding, path)  # the pandas path's checks and messages
    start = len(codecs.BOM_UTF8) if profile.head.startswith(codecs.BOM_UTF8) else 0
    if profile.low[0] or profile.low[ord(NULL_TEXT)]:
        raise NativeReadUnsupported("control characters NUL or SOH in the file")
    newlines = int(profile.low[ord("\n")])  # the BOM holds none
    carriage_returns = int(profile.low[ord("\r")])
    if carriage_returns and (profile.crlf != carriage_returns or profile.crlf != newlines):
        raise NativeReadUnsupported("mixed or bare carriage-return line endings")
    new_line = "\\r\\n" if carriage_returns else "\\n"

    header = _header(profile, start, spec.encoding, delimiter)
    headers = [clean_header(value) for value in header]
    positions = locate_columns(headers, spec, path, "line 1")
    lines = newlines + (0 if profile.size > start and profile.tail.endswith(b"\n") else 1)
    blanks = _blank_mode(profile, start)
    body_start = profile.head.find(b"\n", start) + 1  # the header ends on line 1
    guards = tuple(char for char in SQL_NUMBER_UNSAFE if body_start and profile.last_at[char.encode()] >= body_start)
    # Without quotes, a file whose delimiters number exactly the header's per line most likely has no line with
    # more fields: then no extra column is read. Should one have more after all, DuckDB raises (pandas path).
    unquoted = profile.last_at[QUOTE_CHAR.encode()] < 0
    extra_columns = 0 if unquoted and profile.delimiters == (len(header) - 1) * lines else EXTRA_COLUMNS
    dates = [position for name, position in positions.items() if name in DATE_COLUMNS]
    typed_dates = blanks == "none" and bool(dates) and _reader_converts_dates(profile, body_start, dates, spec)
    return NativeRead(
        path=path,
        spec=spec,
        header=header,
        headers=headers,
        positions=positions,
        new_line=new_line,
        lines=lines,
        blanks=blanks,
        number_guards=guards,
        sha256=sha256,
        extra_columns=extra_columns,
        typed_dates=typed_dates,
    )


def _blank_mode(profile: ByteProfile, start: int) -> str:
    """Which white space may start or end a cell: 'none', 'spaces' (only ' ') or 'any'.

    Cells need no stripping when no white-space byte touches a delimiter, a line end or a quote. DuckDB drops
    blanks around a quoted field where the csv module keeps them, so a blank next to a quote sends the file
    to the pandas path. ``start``: where the body starts (after a BOM).
    """
    present = [char for char in profile.blank_candidates if profile.low[ord(char)]]
    # White space only the per-cell test can judge: Unicode spaces, and a white-space delimiter inside a quoted
    # cell ("\tA1" in a tab file, stripped by the pandas path), which bytes cannot tell from the delimiters
    # beside every quote.
    per_cell = (not profile.ascii and profile.unicode_space) or (
        profile.delimiter in ASCII_SPACES and profile.last_at[QUOTE_CHAR.encode()] >= 0
    )
    if not present:
        return "any" if per_cell else "none"
    if profile.space_by_quote:
        raise NativeReadUnsupported("white space next to a quote")
    ends = {profile.head[start : start + 1], profile.tail[-1:]}  # the body's first and the file's last byte
    touching = profile.space_on_edge or any(end.decode("latin-1") in present for end in ends if end)
    if not touching and not per_cell:
        return "none"
    return "spaces" if present == [" "] and not per_cell else "any"


# Lines of the file's start whose dates decide whether DuckDB's reader converts them (see _reader_converts_dates).
_DATE_SAMPLE_LINES = 100


def _reader_converts_dates(profile: ByteProfile, body_start: int, positions: list[int], spec: FileSpec) -> bool:
    """Whether the dates at the file's start mostly convert, so the reader may convert them itself.

    A line whose date does not convert costs DuckDB's reader microseconds to skip and record, against nothing
    for a text cell: a file whose dates are all in another format (a partner changed it) would take seconds.
    Only the speed depends on this guess; a date the reader cannot convert is refused either way.
    """
    if not body_start:
        return False
    texts = profile.head[body_start:].split(b"\n")
    if len(profile.head) < profile.size:
        texts = texts[:-1]  # the last one may be cut short
    sample = [text for text in texts[:_DATE_SAMPLE_LINES] if text.strip()]
    try:
        rows = list(csv.reader([text.decode("utf-8") for text in sample], delimiter=spec.delimiter))
    except (UnicodeDecodeError, csv.Error):
        return False
    tried = failed = 0
    for row in rows:
        for position in positions:
            cell = row[position] if position < len(row) else ""
            if cell:
                tried += 1
                try:
                    datetime.strptime(cell, spec.date_format)
                except ValueError:
                    failed += 1
    return failed * 10 <= tried


def _header(profile: ByteProfile, start: int, encoding: str, delimiter: str) -> list[str]:
    """The header record, read by the csv module as the pandas path does; it must end on line 1."""
    data = profile.head
    first = data.find(b"\n", start)
    second = data.find(b"\n", first + 1) if first >= 0 else -1
    if second < 0 and profile.size > len(data):
        raise NativeReadUnsupported(f"the first two lines are longer than {HEAD_BYTES} bytes")
    head = data[start : len(data) if second < 0 else second + 1]
    text = head.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=QUOTE_CHAR)
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise NativeReadUnsupported(f"header is not plain delimited text: {exc}") from exc
    if reader.line_num > 1:
        raise NativeReadUnsupported("a quoted header field spans lines")
    return header
