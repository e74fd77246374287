"""Delimited partner files read by DuckDB's own CSV reader and inserted in place: the loader's fast path.

:func:`~assets.feeds.parsers.delimited.parse_delimited` tokenises a file with pandas on one core and hands the loader
frames to insert; here DuckDB reads the file in parallel and one ``insert ... select`` writes the canonical rows
straight into the raw table, inside the loader's transaction. The outcome is the same as parsing with
``parse_delimited`` and inserting its frames: the same rows (values, ``source_line``, ``source_file_id``), the
same rejects with the same reasons, the same :class:`FeedError` for a file that cannot be used.

1. :func:`plan_native_read` decides from a :class:`ByteProfile` of the bytes (gathered while the loader hashes
   the file, without holding it in memory) whether DuckDB reads this file exactly as the csv module does:
   UTF-8 (with or without BOM), one kind of line ending, no NUL, a header on line 1, no blanks around quoted
   fields, a date format made of ``%Y``, ``%m``, ``%d`` and separators, GTIN checks off. It counts the physical
   lines. A file it cannot vouch for raises :class:`NativeReadUnsupported` and takes the pandas path; so does a
   line longer than the csv module's field limit, at which DuckDB's reader stops.
2. :func:`load_native` inserts every record in one parallel ``insert ... select``, marking the ones that are not
   *plain*. A plain line has every mapped cell pass a conservative SQL test under which DuckDB's conversion is
   known to equal the pandas path's (a date ``strptime`` reads with a four-digit year, a number ``try_cast``
   reads without '_' or '+', with at most 15 characters and not a negative zero, a flag spelled as configured,
   no blanks to strip). The test may refuse a good line; it never accepts one the pandas path would read
   otherwise. Where no blank touches a cell, the reader converts the dates itself (the same ``strptime``): a
   line whose date does not convert it skips and records, and that line is refused too.
3. DuckDB keeps the rows in the order of the file, so the n-th row id of the file's rows is its n-th record:
   one ``update`` turns row ids into ``source_line``, around the lines without a record (empty lines, which
   DuckDB skips, and the lines it skipped for a date). Those are found by counting: fewer records than lines
   sends the planner looking for the empty lines, and a count they do not explain (a quoted field spanning
   lines) sends the file to the pandas path. Numbering inside the insert (``row_number() over ()``) would run
   the whole read on one thread.
4. The marked records are deleted, and their lines and the skipped ones, split by the csv module from the
   file's bytes (read again, and checked to be the ones hashed), go through the pandas path's own column
   pipeline (:func:`~assets.feeds.parsers.delimited.records_to_result`), which turns them into rows and
   rejects, so every
   reason text comes from one place. A refused line holding a possible negative zero (whose sign pandas takes
   from the whole column) raises :class:`NativeReadUnsupported`: the loader rolls back and uses the pandas path.

Other encodings (GBK, UTF-16) stay on the pandas path: decoding is most of their cost there anyway.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from assets.feeds.contracts import DATE_COLUMNS, FLAG_COLUMNS, QUANTITY_COLUMNS
from assets.feeds.errors import FeedError
from assets.feeds.parsers.delimited import (
    QUOTE_CHAR,
    ParseResult,
    TextRecords,
    clean_header,
    constant_or_default,
    decode_text,
    joiner,
    locate_columns,
    records_to_result,
)
from assets.feeds.partner_config import LINEAGE_COLUMNS, REQUIRED_COLUMNS, FileSpec

# Characters str.strip() removes: ASCII ones, and the rest of Unicode's white space (a test keeps this list whole).
ASCII_SPACES = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
UNICODE_SPACES = (
    "\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_UNICODE_SPACE_BYTES = tuple(char.encode("utf-8") for char in UNICODE_SPACES)
_SPACE_CLASS = "".join(f"\\x{{{ord(char):x}}}" for char in ASCII_SPACES + UNICODE_SPACES)  # for a RE2 [class]

# Extra columns read past the header: a trailing delimiter (or two) still reads natively; a longer line makes
# DuckDB raise and the file takes the pandas path, which reports it as a structural reject.
EXTRA_COLUMNS = 2
# DuckDB reads a cell equal to ``nullstr`` as NULL. Padding of short lines is NULL too, so with a value no file
# holds (files containing it are refused), NULL means "no such field" and '' an empty field.
_NULL_TEXT = "\x01"
# Lines without a record (empty ones, those DuckDB skipped) shift every later line number. Up to this many runs
# of them, a balanced CASE numbers the rows; past it, planning that CASE costs more than an ASOF join.
CASE_RUNS = 64
_RUNS_TABLE = "_cmi_line_runs"
# Where DuckDB's reader records the lines it skipped because a typed cell did not convert (temporary tables).
_REJECTS_TABLE = "_cmi_csv_rejects"
_REJECT_SCANS_TABLE = "_cmi_csv_reject_scans"
# ``source_line`` of a record the plain-line test refused, until load_native deletes it; no line is numbered < 1.
REFUSED_MARK = -1
_UNNUMBERED = f"(source_line is null or source_line = {REFUSED_MARK})"  # the rows load_native just inserted
# A large file with more than this share of its lines refused is read by the pandas path (see load_native).
_REFUSED_SHARE_MAX = 0.1
_REFUSED_SHARE_MIN_RECORDS = 10_000
_DATE_FORMAT = re.compile(r"^(?:%[Ymd]|[-./])+$")
# DuckDB's strptime also reads 'epoch' and 'infinity' and years of fewer digits: such dates are left to pandas.
_PLAIN_DATE = "between date '1000-01-01' and date '9999-12-30' and {day} <> date '1970-01-01'"
_LOW = ord("!")  # bytes below it are line ends, ASCII white space and control characters
_CONTROL_CODES = [code for code in range(_LOW) if chr(code) not in ASCII_SPACES]  # text, if nothing else is
HEAD_BYTES = 1 << 16  # kept from the start of a file: the header record must end within them
_PROBES = (b"_", b"+", QUOTE_CHAR.encode())  # bytes whose last occurrence the planner asks about
_NULL_LITERAL = re.compile(r"^null::\w+$")  # what _Query._constant gives for a column without a value
_MAX_NUMBER_CHARS = 15  # digits beyond double precision are left to pandas
# A minus and zeros, no other digit: perhaps a negative zero ("-0", "0-", "-0,00"). pd.to_numeric reads "-0" as
# 0.0 when every other distinct text of its column is an integer too, else as -0.0: only the whole file says.
# A plain line must not hold one; a refused line holding one sends the file to the pandas path.
_NONZERO_DIGIT = re.compile("[1-9]")


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
        return _content(self.path, self.sha256)

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


@dataclass
class NativeLoad:
    """What :func:`load_native` wrote and what the loader still has to write (rows and rejects of refused lines)."""

    inserted: int
    remainder: ParseResult | None  # None when every line went in
    days: tuple[date, date] | None = None  # earliest and latest ``key_day`` of the inserted rows

    @property
    def rows_parsed(self) -> int:
        return self.inserted + (self.remainder.rows_parsed if self.remainder else 0)

    @property
    def rows_rejected(self) -> int:
        return self.remainder.rows_rejected if self.remainder else 0


# --- looking at the bytes -----------------------------------------------------------------------------------


class ByteProfile:
    """What :func:`plan_native_read` needs to know about a file's bytes, gathered chunk by chunk.

    A :class:`~assets.feeds.loading.file_scan.ChunkObserver`: the loader shows it the file while hashing it, so the
    bytes are read once, and each question costs a pass over a chunk still in the CPU cache. Every answer is the
    same however the file is cut into chunks (a test cuts files into chunks of a few bytes).
    """

    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter
        self.size = 0
        self.head = b""  # the first HEAD_BYTES bytes: the header record and the start of the body
        self.tail = b""  # the last two bytes so far
        self.ascii = True
        self.utf8 = True  # whether the bytes so far can be UTF-8 (decoded only once a byte beyond ASCII shows)
        self.beyond_ascii = 0  # bytes >= 0x80
        self.low = np.zeros(_LOW, dtype=np.int64)  # how often each byte below "!" occurs: line ends, blanks, controls
        self.crlf = 0  # "\r\n" pairs
        self.delimiters = 0  # occurrences of the delimiter byte, quoted or not
        self.last_at = dict.fromkeys(_PROBES, -1)  # offset of each probe byte's last occurrence
        self.unicode_space = False
        self.space_by_quote = False  # an ASCII blank (not a line end or the delimiter) next to a quote
        self.space_on_edge = False  # such a blank next to a delimiter or a line end
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._closed = False
        self.failure: Exception | None = None  # what went wrong looking at the bytes, if anything
        self._is_space = np.zeros(256, dtype=bool)
        self._is_space[[ord(char) for char in self.blank_candidates]] = True
        self._is_edge = np.zeros(256, dtype=bool)
        self._is_edge[[ord("\n"), ord("\r")]] = True
        self._delimiter_code = ord(delimiter) if len(delimiter) == 1 and ord(delimiter) < 128 else None
        if self._delimiter_code is not None:
            self._is_edge[self._delimiter_code] = True

    @classmethod
    def of(cls, data: bytes, delimiter: str, *, chunk_bytes: int | None = None) -> ByteProfile:
        """The profile of bytes in memory, looked at in chunks of ``chunk_bytes`` (all at once by default)."""
        profile = cls(delimiter)
        step = chunk_bytes or max(len(data), 1)
        for begin in range(0, len(data), step):
            chunk = data[begin : begin + step]
            profile.observe(chunk, len(chunk))
        return profile.close()

    @property
    def blank_candidates(self) -> list[str]:
        """ASCII white space the pandas path strips from a cell: not a line end, not the delimiter."""
        return [char for char in ASCII_SPACES if char not in "\r\n" and char != self.delimiter]

    def observe(self, buffer: bytes | bytearray, length: int) -> None:
        if self._closed:
            raise RuntimeError("the profile is closed")
        if self.failure is not None:
            return
        try:
            self._observe(buffer, length)
        except Exception as exc:  # a bug of ours must not stop the hash: the planner raises it for this file only
            self.failure = exc

    def _observe(self, buffer: bytes | bytearray, length: int) -> None:
        if not length:
            return
        chunk = memoryview(buffer)[:length]
        codes = np.frombuffer(buffer, dtype=np.uint8, count=length)
        offset, previous = self.size, self.tail
        if len(self.head) < HEAD_BYTES:
            self.head += bytes(chunk[: HEAD_BYTES - len(self.head)])
        line_feeds = int(np.count_nonzero(codes == ord("\n")))
        if self._delimiter_code is not None:
            self.delimiters += int(np.count_nonzero(codes == self._delimiter_code))
        low = int(np.count_nonzero(codes < _LOW))
        blanks_here = False
        if low == line_feeds:
            self.low[ord("\n")] += line_feeds
        else:
            counts = np.bincount(codes[codes < _LOW], minlength=_LOW)
            self.low += counts
            if counts[ord("\r")]:
                self.crlf += buffer.count(b"\r\n", 0, length)
            blanks_here = bool(counts[self._is_space[:_LOW]].any())
        if previous.endswith(b"\r") and codes[0] == ord("\n"):
            self.crlf += 1
        # The str methods below need the chunk alone: a last, shorter chunk is copied once, others when needed.
        own = bytes(chunk) if length != len(buffer) else None
        ascii_chunk = (buffer if own is None else own).isascii()
        # A blank at the end of the last chunk may touch a quote or an edge at the start of this one.
        blanks_near = blanks_here or bool(previous and self._is_space[previous[-1]])
        if own is None and (blanks_near or not ascii_chunk):
            own = bytes(chunk)
        if blanks_near:
            self._look_at_blanks(np.frombuffer(previous[-1:] + own, dtype=np.uint8))
        if not ascii_chunk:
            self._beyond_ascii(previous + own, codes)
        elif self.utf8 and self._decoder.getstate()[0]:
            self.utf8 = False  # a multi-byte character cut short by ASCII
        for probe in _PROBES:
            found = buffer.rfind(probe, 0, length)
            if found >= 0:
                self.last_at[probe] = offset + found
        self.size += length
        self.tail = (previous + bytes(chunk[-2:]))[-2:]

    def _look_at_blanks(self, window: np.ndarray) -> None:
        space = self._is_space[window]
        quote = window == ord(QUOTE_CHAR)
        edge = self._is_edge[window]
        self.space_by_quote = self.space_by_quote or bool(
            (space[1:] & quote[:-1]).any() or (space[:-1] & quote[1:]).any()
        )
        self.space_on_edge = self.space_on_edge or bool((space[1:] & edge[:-1]).any() or (space[:-1] & edge[1:]).any())

    def _beyond_ascii(self, window: bytes, codes: np.ndarray) -> None:
        """A chunk with bytes beyond ASCII; ``window`` is it with the last two bytes before it."""
        self.ascii = False
        self.beyond_ascii += int(np.count_nonzero(codes >= 0x80))
        # A white-space character of up to three bytes may start in the bytes before the chunk.
        self.unicode_space = self.unicode_space or _has_unicode_space(window)
        if self.utf8:
            try:
                self._decoder.decode(window[len(window) - len(codes) :])
            except UnicodeDecodeError:
                self.utf8 = False

    def close(self) -> ByteProfile:
        """Call once the whole file was observed (a character cut short at its end is not UTF-8)."""
        if not self._closed:
            self._closed = True
            if self.utf8:
                try:
                    self._decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    self.utf8 = False
        return self

    @property
    def text_surely(self) -> bool:
        """Whether some byte is ASCII and neither white space nor a control character (so the file has text)."""
        return self.size - int(self.low.sum()) - self.beyond_ascii > 0

    def blanks(self, start: int) -> str:
        """Which white space may start or end a cell: 'none', 'spaces' (only ' ') or 'any'.

        Cells need no stripping when no white-space byte touches a delimiter, a line end or a quote. DuckDB drops
        blanks around a quoted field where the csv module keeps them, so a blank next to a quote sends the file
        to the pandas path. ``start``: where the body starts (after a BOM).
        """
        present = [char for char in self.blank_candidates if self.low[ord(char)]]
        # White space only the per-cell test can judge: Unicode spaces, and a white-space delimiter inside a quoted
        # cell ("\tA1" in a tab file, stripped by the pandas path), which bytes cannot tell from the delimiters
        # beside every quote.
        per_cell = (not self.ascii and self.unicode_space) or (
            self.delimiter in ASCII_SPACES and self.last_at[QUOTE_CHAR.encode()] >= 0
        )
        if not present:
            return "any" if per_cell else "none"
        if self.space_by_quote:
            raise NativeReadUnsupported("white space next to a quote")
        ends = {self.head[start : start + 1], self.tail[-1:]}  # the body's first and the file's last byte
        touching = self.space_on_edge or any(end.decode("latin-1") in present for end in ends if end)
        if not touching and not per_cell:
            return "none"
        return "spaces" if present == [" "] and not per_cell else "any"


def _content(path: Path, sha256: str) -> bytes:
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
    if spec.gtin_mode != "off":
        raise NativeReadUnsupported("GTIN checks on product refs")
    delimiter = spec.delimiter
    if len(delimiter) != 1 or delimiter in f"{QUOTE_CHAR}\r\n{_NULL_TEXT}\x00" or not delimiter.isascii():
        raise NativeReadUnsupported(f"delimiter {delimiter!r}")
    if any(canonical in DATE_COLUMNS for canonical in spec.columns) and not _DATE_FORMAT.match(spec.date_format):
        raise NativeReadUnsupported(f"date format {spec.date_format}")
    if profile.delimiter != delimiter:
        raise ValueError(f"profile made for delimiter {profile.delimiter!r}, file spec has {delimiter!r}")
    profile.close()
    if profile.failure is not None:
        raise profile.failure

    if not profile.size:
        raise FeedError(path, None, "empty file (0 bytes)")
    if profile.ascii:
        if not profile.text_surely and not profile.low[_CONTROL_CODES].any():
            raise FeedError(path, None, "empty file (no text)")
    elif not profile.utf8 or not profile.text_surely:
        decode_text(_content(path, sha256), spec.encoding, path)  # the pandas path's checks and messages
    start = len(codecs.BOM_UTF8) if profile.head.startswith(codecs.BOM_UTF8) else 0
    if profile.low[0] or profile.low[ord(_NULL_TEXT)]:
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
    blanks = profile.blanks(start)
    body_start = profile.head.find(b"\n", start) + 1  # the header ends on line 1
    guards = tuple(char for char in "_+" if body_start and profile.last_at[char.encode()] >= body_start)
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


def _runs(lines: Sequence[int]) -> list[tuple[int, int]]:
    """Lines without a record (sorted numbers, after the header) as runs: (data records before it, its length).

    DuckDB numbers records without them, so a record's line is its number + 1 (header) + the lengths of the
    runs before it.
    """
    runs: list[tuple[int, int]] = []
    previous = -2
    for without_record_before, line in enumerate(lines):
        if line == previous + 1:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((line - 2 - without_record_before, 1))
        previous = line
    return runs


def _has_unicode_space(data: bytes) -> bool:
    """Whether UTF-8 ``data`` holds a white-space character beyond ASCII (no-break space, ideographic space ...)."""
    body = np.frombuffer(data, dtype=np.uint8)
    leads = np.flatnonzero((body == 0xC2) | ((body >= 0xE1) & (body <= 0xE3)))
    if len(leads) == 0:
        return False
    for sequence in _UNICODE_SPACE_BYTES:
        candidates = leads[body[leads] == sequence[0]]
        for offset, byte in enumerate(sequence[1:], start=1):
            candidates = candidates[candidates + offset < len(body)]
            candidates = candidates[body[candidates + offset] == byte]
        if len(candidates):
            return True
    return False


# --- reading and inserting ----------------------------------------------------------------------------------


def load_native(
    conn: duckdb.DuckDBPyConnection,
    plan: NativeRead,
    table: str,
    columns: Sequence[str],
    types: Mapping[str, str],
    partner_id: str,
    source_file_id: str,
    *,
    default_currency: str | None = None,
    key_day: str | None = None,
) -> NativeLoad:
    """Insert the plain lines of the planned file into ``table`` (its ``columns``, cast to ``types``).

    Runs inside the caller's transaction. Returns the count inserted, the range of the ``key_day`` column over
    the inserted rows and, as a :class:`ParseResult` (None when there are none), the rows and rejects of the
    other lines for the caller to write. Raises FeedError when the file has no data lines,
    NativeReadUnsupported when DuckDB cannot read it as planned (the caller rolls back and uses the pandas path).
    """
    query = _Query(plan, columns, types, partner_id, source_file_id, default_currency)
    _require_insertion_order(conn)
    if plan.typed_dates:
        _drop_rejects_tables(conn)
    _execute(conn, query.insert(table), query.parameters)
    skipped = _skipped_lines(conn, plan) if plan.typed_dates else []
    # The file's rows are the table's only ones without a line yet (every loaded row has one), found by that
    # integer rather than by comparing every row's file id: the row groups of loaded files are skipped whole.
    # Should another row lack a line after all, the count or the row ids below do not add up: pandas path.
    # One scan answers every question about them.
    day_range = "null, null"
    if key_day is not None:
        plain = "filter (where source_line is null)"
        day_range = f"min({key_day}) {plain}, max({key_day}) {plain}"
    refused_count, count, first, last, first_day, last_day = conn.execute(
        f"select count(*) filter (where source_line = {REFUSED_MARK}), count(*), min(rowid), max(rowid), "
        f"{day_range} from {table} where {_UNNUMBERED}"
    ).fetchone()
    days = (first_day, last_day) if first_day is not None else None
    records = count + len(skipped)
    if records >= _REFUSED_SHARE_MIN_RECORDS and (refused_count + len(skipped)) > _REFUSED_SHARE_MAX * records:
        # Each refused line goes through the csv module and the pandas pipeline on its own; past this share the
        # pandas path reads the whole file faster (a partner who changed its date format refuses every line).
        raise NativeReadUnsupported(f"{refused_count + len(skipped)} of {records} lines refused")
    without_record = skipped
    if count != plan.lines - 1 - len(skipped):
        # Fewer records than lines: DuckDB skipped empty lines, or a quoted field spans lines. Only the first
        # keeps each record on its own line.
        empty = plan.empty_lines.tolist()
        if count != plan.lines - 1 - len(skipped) - len(empty):
            raise NativeReadUnsupported(
                "records do not add up to the lines (a quoted field spans lines, or other rows lack a line)"
            )
        without_record = sorted(skipped + empty)
    if count and last - first + 1 != count:
        raise NativeReadUnsupported("the file's rows did not get consecutive row ids")
    # Rows are stored in file order: the i-th row of the file is its i-th record.
    numbering = _Numbering(conn, table, first or 0, _runs(without_record))
    numbering.number_plain_rows()
    marked = numbering.refused_lines() if refused_count else []
    numbering.close()
    inserted = count - refused_count
    refused: list[tuple[int, list[str]]] = []
    if refused_count or skipped:
        if refused_count:
            conn.execute(f"delete from {table} where source_line = {REFUSED_MARK}")
        refused = _refused_lines(plan, sorted(marked + skipped))
        quantities = [position for name, position in plan.positions.items() if name in QUANTITY_COLUMNS]
        if any(_perhaps_signed_zero(fields, quantities) for _, fields in refused):
            raise NativeReadUnsupported("a quantity may be a negative zero, whose sign depends on the whole column")
    if inserted and not refused:
        return NativeLoad(inserted, None, days)
    remainder = records_to_result(
        query.records(refused),
        plan.spec,
        partner_id,
        source_file_id,
        plan.path,
        default_currency=default_currency,
        require_rows=inserted == 0,
    )
    return NativeLoad(inserted, remainder, days)


class _Numbering:
    """Line numbers for the rows just inserted, from their row ids and the runs of lines without a record."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, table: str, first: int, runs: list[tuple[int, int]]) -> None:
        self.conn, self.table, self.runs = conn, table, runs
        self.record = f"(rowid - {first} + 1)"  # the row's record number in the file, from 1

    def number_plain_rows(self) -> None:
        if len(self.runs) <= CASE_RUNS:
            line = _line_sql(self.record, self.runs)
            self.conn.execute(f"update {self.table} set source_line = {line} where source_line is null")
            return
        self._create_runs_table()
        self.conn.execute(
            f"update {self.table} as target set source_line = numbered.line "
            f"from ({self._numbered('source_line is null')}) as numbered where target.rowid = numbered.row_id"
        )

    def refused_lines(self) -> list[int]:
        """The lines of the rows marked refused."""
        refused = f"source_line = {REFUSED_MARK}"
        if len(self.runs) <= CASE_RUNS:
            sql = f"select {_line_sql(self.record, self.runs)} from {self.table} where {refused}"
        else:
            sql = f"select line from ({self._numbered(refused)})"
        return [line for (line,) in self.conn.execute(sql).fetchall()]

    def close(self) -> None:
        if len(self.runs) > CASE_RUNS:
            self.conn.execute(f"drop table if exists temp.main.{_RUNS_TABLE}")

    def _create_runs_table(self) -> None:
        shifts = np.cumsum([length for _, length in self.runs]).tolist()
        self.conn.execute(
            f"create or replace temp table {_RUNS_TABLE} as "
            "select unnest($bounds)::bigint as records_before, unnest($shifts)::bigint as shift",
            {"bounds": [records_before for records_before, _ in self.runs], "shifts": shifts},
        )

    def _numbered(self, condition: str) -> str:
        """Rows matching ``condition`` with their line: each takes the shift of the last run before it."""
        record = self.record.replace("rowid", "row.rowid")
        return (
            f"select row.rowid as row_id, {record} + 1 + coalesce(runs.shift, 0) as line "
            f"from {self.table} as row asof left join temp.main.{_RUNS_TABLE} as runs "
            f"on {record} > runs.records_before where row.{condition}"
        )


def _line_sql(record: str, runs: Sequence[tuple[int, int]]) -> str:
    """SQL for a record's physical line: its number, the header and the lines without a record before it.

    A balanced CASE over the ``runs`` (see :func:`_runs`): each record passes about log2(runs) comparisons.
    """
    bounds = [records_before for records_before, _ in runs]
    shifts = [0]
    for _, length in runs:
        shifts.append(shifts[-1] + length)

    def between(low: int, high: int) -> str:  # records after run low - 1 and up to run high
        if low == high:
            return f"{record} + {1 + shifts[low]}"
        middle = (low + high) // 2
        return (
            f"case when {record} <= {bounds[middle]} then {between(low, middle)} else {between(middle + 1, high)} end"
        )

    return between(0, len(runs))


def _drop_rejects_tables(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        f"drop table if exists temp.main.{_REJECTS_TABLE}; drop table if exists temp.main.{_REJECT_SCANS_TABLE}"
    )


def _skipped_lines(conn: duckdb.DuckDBPyConnection, plan: NativeRead) -> list[int]:
    """The lines DuckDB's reader skipped because a date did not convert (sorted); the rejects tables are dropped.

    Any other reason it skipped a line for (a line longer than the header plus the extra cells, a stray quote)
    means the file is not as planned: NativeReadUnsupported.
    """
    rows = conn.execute(f"select line, error_type, csv_line from temp.main.{_REJECTS_TABLE} order by line").fetchall()
    _drop_rejects_tables(conn)
    reasons = {error_type for _, error_type, _ in rows}
    if reasons - {"CAST"}:
        raise NativeReadUnsupported(f"DuckDB's reader skipped lines: {', '.join(sorted(reasons))}")
    # Lines are numbered from these: each must be the line the file has there.
    for line, _, text in rows:
        if not 2 <= line <= plan.lines or text is None or plan.line_text(line) != text.strip("\r\n"):
            raise NativeReadUnsupported(f"DuckDB's reader skipped a line it places elsewhere than line {line}")
    return sorted({line for line, _, _ in rows})


def _refused_lines(plan: NativeRead, lines: Sequence[int]) -> list[tuple[int, list[str]]]:
    """The fields of these lines of the file, split by the csv module (which DuckDB's reader matches here).

    Taken from the file's bytes (:attr:`NativeRead.data`): reading the file again in DuckDB would need its records
    numbered, which runs the read on one thread.
    """
    texts = [plan.line_text(line) for line in lines]  # lines >= 2: the header is line 1
    # One reader for all of them, faster than one per line: each text is a whole record (DuckDB read it so).
    reader = csv.reader(texts, delimiter=plan.spec.delimiter, quotechar=QUOTE_CHAR)
    refused = []
    for index, line in enumerate(lines):
        fields = next(reader, [])
        if reader.line_num != index + 1:
            raise NativeReadUnsupported(f"line {line} is not one whole record for the csv module")
        refused.append((line, fields))
    return refused


def _perhaps_signed_zero(fields: Sequence[str], positions: Sequence[int]) -> bool:
    """A quantity cell with a minus and zeros and no other digit ("-0", "0-", "-0,00"): see ``_NONZERO_DIGIT``."""
    for position in positions:
        cell = fields[position] if position < len(fields) else ""
        if "-" in cell and "0" in cell and not _NONZERO_DIGIT.search(cell):
            return True
    return False


def _require_insertion_order(conn: duckdb.DuckDBPyConnection) -> None:
    """Line numbers come from row ids, which follow the file only while DuckDB preserves insertion order."""
    (preserved,) = conn.execute("select current_setting('preserve_insertion_order')").fetchone()
    if not preserved:
        raise NativeReadUnsupported("preserve_insertion_order is off: row ids would not follow the file")


def _execute(conn: duckdb.DuckDBPyConnection, sql: str, parameters: dict) -> list[tuple]:
    try:
        return conn.execute(sql, parameters).fetchall()
    except (duckdb.InvalidInputException, duckdb.ConversionException) as exc:
        # DuckDB refused the text (a line longer than the header plus two, an unterminated quote ...).
        raise NativeReadUnsupported(f"DuckDB cannot read the file: {str(exc).splitlines()[0]}") from exc
    except duckdb.Error as exc:
        # The parallel reader refuses a quoted field spanning lines (with null padding) by a bare duckdb.Error;
        # only CSV errors mean "not this way", anything else is the database's and propagates.
        if type(exc) is not duckdb.Error or "CSV Error" not in str(exc):
            raise
        raise NativeReadUnsupported(f"DuckDB cannot read the file: {str(exc).splitlines()[0]}") from exc


class _Query:
    """The SQL of one planned file: the insert of its plain lines and the select of the others."""

    def __init__(
        self,
        plan: NativeRead,
        columns: Sequence[str],
        types: Mapping[str, str],
        partner_id: str,
        source_file_id: str,
        default_currency: str | None,
    ) -> None:
        self.plan = plan
        self.columns = list(columns)
        self.types = types
        self.parameters: dict[str, object] = {
            "path": plan.path.as_posix(),
            "delimiter": plan.spec.delimiter,
            "null_text": _NULL_TEXT,
            "partner_id": partner_id,
            "source_file_id": source_file_id,
        }
        self.default_currency = default_currency
        # Cells the reader converts to dates itself (see NativeRead.typed_dates).
        self.typed_positions = (
            {position for name, position in plan.positions.items() if name in DATE_COLUMNS}
            if plan.typed_dates
            else set()
        )
        self.expressions: dict[str, str] = {}
        self.tests: list[str] = []
        # Conversions the tests and the inserted value share, computed once per record (alias -> expression).
        self.derived: dict[str, str] = {}
        self._build()

    @property
    def cell_count(self) -> int:
        return self.plan.width + self.plan.extra_columns

    def source(self) -> str:
        cells = ", ".join(
            f"'c{index}': '{'DATE' if index in self.typed_positions else 'VARCHAR'}'"
            for index in range(self.cell_count)
        )
        typed = ""
        if self.typed_positions:
            # The date format is made of %Y, %m, %d and separators only (plan_native_read checked).
            typed = (
                f"dateformat = '{self.plan.spec.date_format}', store_rejects = true, "
                f"rejects_table = '{_REJECTS_TABLE}', rejects_scan = '{_REJECT_SCANS_TABLE}', "
            )
        read = (
            "read_csv($path, header = false, skip = 1, auto_detect = false, "
            f"columns = {{{cells}}}, delim = $delimiter, quote = '\"', escape = '\"', {typed}"
            f"new_line = '{self.plan.new_line}', null_padding = true, nullstr = $null_text, "
            # Once any line sends the pandas path to the csv module, a field longer than its limit makes the
            # file unusable there: a longer line makes DuckDB stop (or skip it), and the file takes the pandas path.
            f"max_line_size = {csv.field_size_limit()})"
        )
        if not self.derived:
            return read
        derived = ", ".join(f"{expression} as {alias}" for alias, expression in self.derived.items())
        return f"(select *, {derived} from {read})"

    def plain(self) -> str:
        return " and ".join(self.tests) if self.tests else "true"

    def insert(self, table: str) -> str:
        """Every record, in file order; a refused one carries ``REFUSED_MARK`` as its line, the others none yet.

        No filter and no numbering: both would cost more than the read (a filter makes the insert gather rows,
        numbering runs the read on one thread). :func:`load_native` numbers the rows by row id afterwards.
        """
        # A column the file leaves null throughout is left out: the raw tables have no defaults, so it stays null,
        # and writing a million nulls costs as much as writing values.
        written = [column for column in self.columns if not _NULL_LITERAL.match(self.expressions[column])]
        selected = ", ".join(f"cast({self.expressions[column]} as {self.types[column]})" for column in written)
        return f"insert into {table} ({', '.join(written)}) select {selected} from {self.source()}"

    def records(self, refused: list[tuple[int, list[str]]]) -> TextRecords:
        """Refused lines as the text records the pandas path builds (short lines padded, long ones rejected)."""
        width = self.plan.width
        delimiter = self.plan.spec.delimiter
        kept: list[list[str]] = []
        lines: list[int] = []
        structural: list[tuple[int, str, str]] = []
        for line, fields in refused:
            if len(fields) > width and any(value.strip() for value in fields[width:]):
                structural.append((line, f"expected {width} fields, found {len(fields)}", delimiter.join(fields)))
                continue
            kept.append((fields + [""] * width)[:width])
            lines.append(line)
        data = pd.DataFrame(kept, columns=range(width), dtype=object)
        return TextRecords(
            self.plan.header, data, np.asarray(lines, dtype=np.int64), structural, raw_records=joiner(delimiter)
        )

    # -- per column --------------------------------------------------------------------------------------

    def _build(self) -> None:
        spec = self.plan.spec
        required = REQUIRED_COLUMNS[spec.record_type]
        for canonical in self.columns:
            if canonical in LINEAGE_COLUMNS:
                continue
            position = self.plan.positions.get(canonical)
            if position is None:
                self.expressions[canonical] = self._constant(canonical)
                continue
            cell = f"c{position}"
            if self.plan.blanks == "spaces":
                cell = f"trim({cell})"
            blank = f"({cell} is null)" if position in self.typed_positions else f"({cell} is null or {cell} = '')"
            if canonical in DATE_COLUMNS:
                self._date(canonical, cell, blank, canonical in required)
            elif canonical in QUANTITY_COLUMNS:
                self._quantity(canonical, cell, blank, canonical in required)
            elif canonical in FLAG_COLUMNS:
                self._flag(canonical, cell, blank, canonical in required)
            else:
                self._text(canonical, cell, blank, canonical in required)
        if "period_end" in self.expressions and "period_start" in self.expressions:
            # Daily feeds carry one date; a blank or absent end means a one-day period.
            self.expressions["period_end"] = (
                f"coalesce({self.expressions['period_end']}, {self.expressions['period_start']})"
            )
        self.expressions["partner_id"] = "$partner_id"
        self.expressions["source_file_id"] = "$source_file_id"
        for index in range(self.plan.width, self.cell_count):
            self.tests.append(f"coalesce(c{index}, '') = ''")
        # A test that is NULL (a cell missing) refuses the line too: CASE takes only a true condition.
        self.expressions["source_line"] = f"case when {self.plain()} then null else {REFUSED_MARK} end"

    def _unpadded(self, cell: str) -> None:
        """Refuse cells that start or end with white space the pandas path would strip (only where some might)."""
        if self.plan.blanks == "any":
            self.tests.append(f"not regexp_matches({cell}, '^[{_SPACE_CLASS}]|[{_SPACE_CLASS}]$')")

    def _text(self, canonical: str, cell: str, blank: str, required: bool) -> None:
        if required:
            self.tests.append(f"{cell} <> ''")
            self._unpadded(cell)
            self.expressions[canonical] = cell
            return
        self._unpadded(f"coalesce({cell}, '')")
        self.expressions[canonical] = f"coalesce(nullif({cell}, ''), {self._constant(canonical)})"

    def _derive(self, alias: str, expression: str) -> str:
        """A conversion read by both the plain-line test and the inserted value: the name of its one computation."""
        self.derived[alias] = expression
        return alias

    def _date(self, canonical: str, cell: str, blank: str, required: bool) -> None:
        if self.plan.positions[canonical] in self.typed_positions:
            day = cell  # converted by the reader, which skips a line whose date does not convert
        else:
            day = self._derive(f"day_{canonical}", f"try_strptime({cell}, '{self.plan.spec.date_format}')::date")
        plain = f"{day} {_PLAIN_DATE.format(day=day)}"
        if required:
            self.tests.append(plain)
            self.expressions[canonical] = day
            return
        # An optional date left blank stays empty (a sales period end then defaults to its start): a blank cell
        # reads as NULL, and a cell that is neither blank nor plain refuses the line.
        self.tests.append(f"({blank} or ({plain}))")
        self.expressions[canonical] = day

    def _quantity(self, canonical: str, cell: str, blank: str, required: bool) -> None:
        spec = self.plan.spec
        text = cell
        if spec.thousands:
            text = f"replace({text}, {_literal(spec.thousands)}, '')"
        if spec.decimal != ".":
            text = f"replace({text}, {_literal(spec.decimal)}, '.')"
        number = self._derive(f"number_{canonical}", f"try_cast({text} as double)")
        # A zero written with a minus (see _NONZERO_DIGIT): a plain line reads as a number, so its zero and its
        # minus suffice.
        signed_zero = f"({number} = 0 and strpos({cell}, '-') > 0)"
        tests = [f"isfinite({number})", f"strlen({cell}) <= {_MAX_NUMBER_CHARS}", f"not {signed_zero}"]
        tests += [f"strpos({cell}, {_literal(char)}) = 0" for char in self.plan.number_guards]
        plain = " and ".join(tests)
        if required:
            self.tests.append(plain)
            self.expressions[canonical] = number
            return
        self.tests.append(f"({blank} or ({plain}))")
        # Blank reads as NULL, so the default; any other cell that does not read refuses the line.
        self.expressions[canonical] = f"coalesce({number}, {self._constant(canonical)})"

    def _flag(self, canonical: str, cell: str, blank: str, required: bool) -> None:
        meanings = _flag_spellings(self.plan.spec.true_values, self.plan.spec.false_values)
        self._unpadded(f"coalesce({cell}, '')")
        spelled = ", ".join(_literal(spelling) for spelling in meanings)
        known = f"{cell} in ({spelled})" if meanings else "false"
        self.tests.append(f"{cell} <> '' and {known}" if required else f"({blank} or {known})")
        truths = ", ".join(_literal(spelling) for spelling, meaning in meanings.items() if meaning)
        if truths:  # blank (NULL or '') stays NULL
            self.expressions[canonical] = f"nullif({cell}, '') in ({truths})"
        else:  # no spelling means true (a text configured as both reads as false): "in ()" is not SQL
            self.expressions[canonical] = f"case when {blank} then null::boolean else false end"

    def _constant(self, canonical: str) -> str:
        """The SQL literal of a column the file does not carry (or leaves blank): the pandas path's value."""
        value = constant_or_default(canonical, self.plan.spec, self.default_currency, 1)[0]
        if canonical in DATE_COLUMNS:
            if np.isnat(value):
                return "null::date"
            return f"date '{np.datetime64(value, 'D')}'"
        if canonical in QUANTITY_COLUMNS:
            return "null::double" if np.isnan(value) else f"{float(value)!r}::double"
        if canonical in FLAG_COLUMNS:
            return "null::boolean" if value is pd.NA else ("true" if value else "false")
        return "null::varchar" if value is None else _literal(str(value))


def _flag_spellings(true_values: Sequence[str], false_values: Sequence[str]) -> dict[str, bool]:
    """Exact cell texts and what they mean to the pandas path (which compares case-folded): the usual casings."""
    lookup = {value.casefold(): True for value in true_values} | {value.casefold(): False for value in false_values}
    spellings: dict[str, bool] = {}
    for value in (*true_values, *false_values):
        for spelling in (value, value.lower(), value.upper(), value.casefold(), value.title()):
            meaning = lookup.get(spelling.casefold())
            if spelling and meaning is not None:
                spellings.setdefault(spelling, meaning)
    return spellings


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
