"""Resource limits per delivered file: what one partner's file may cost before it is refused, limit named.

A partner can send anything: a 3 MB workbook that inflates to gigabytes, a 200 MB CSV on one line, JSON nested
100,000 deep, an X12 interchange of millions of segments. Every parser holds a file (or its decoded text and rows)
in memory, so the memory a night needs is bounded by bounding each file *before* it is parsed, cheaply and
without trusting its content:

- ``max_file_mib`` per format: the file's size on disk (the parsers' memory grows with it; see README "Limits");
- ``max_line_kib``: the longest line of a delimited file (a cell can be no longer than its line), measured while
  the file is hashed;
- ``xlsx_max_uncompressed_mib``, ``xlsx_max_member_mib``, ``xlsx_max_ratio``, ``xlsx_max_members``: the
  workbook's zip directory, read before anything is inflated (sizes, compression ratio, member count); and no XML
  part may declare a document type (entity expansion, external entities);
- ``json_max_depth``: nesting of a JSON document, counted on its bytes before ``json`` recurses into it;
- ``max_files_per_run`` and ``max_folder_depth``: how many files of one partner a run takes (the rest wait for the
  next run) and how deep its folders may nest.

A partner YAML may raise or lower any of them under ``limits:``; the defaults are :data:`DEFAULT_LIMITS`. A file
over a limit raises :class:`LimitExceeded` (a :class:`FeedError`), so the loader quarantines it with the limit's
name, its value and what the file had.
"""

from __future__ import annotations

import dataclasses
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assets.feeds.errors import FeedError, PartnerConfigError

MIB = 1 << 20
KIB = 1 << 10

# Bytes of each XML part of a workbook looked at for a document type declaration: it must come before the root.
XML_PROLOG_BYTES = 4 * KIB
_DOCTYPE = re.compile(rb"<!\s*(doctype|entity)", re.IGNORECASE)
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


class LimitExceeded(FeedError):
    """A file over one of its partner's resource limits; ``limit`` is the limit's name as the YAML spells it."""

    def __init__(self, path: Path | str, location: str | None, limit: str, reason: str) -> None:
        self.limit = limit
        super().__init__(path, location, reason)

    def __reduce__(self):
        return (type(self), (self.path, self.location, self.limit, self.reason))


@dataclass(frozen=True)
class FileLimits:
    """The limits one partner's files are held to (see the module docstring); sizes in MiB / KiB as configured."""

    max_file_mib: Mapping[str, float] = field(
        default_factory=lambda: {"csv": 256, "xlsx": 32, "json": 64, "x12": 16, "edifact": 16}
    )
    max_line_kib: float = 1024
    xlsx_max_uncompressed_mib: float = 192
    xlsx_max_member_mib: float = 128
    xlsx_max_ratio: float = 200
    xlsx_max_members: int = 2000
    json_max_depth: int = 64
    max_files_per_run: int = 5000
    max_folder_depth: int = 8

    def max_file_bytes(self, file_format: str) -> int:
        return int(self.max_file_mib.get(file_format, max(self.max_file_mib.values())) * MIB)

    @property
    def max_line_bytes(self) -> int:
        return int(self.max_line_kib * KIB)


DEFAULT_LIMITS = FileLimits()
_NUMBER_KEYS = {field.name for field in dataclasses.fields(FileLimits)} - {"max_file_mib"}


def parse_limits(document: Any, path: Path, key: str = "limits") -> FileLimits:
    """A partner's ``limits:`` mapping over the defaults; an unknown key or a non-positive value is a config error."""
    if document is None:
        return DEFAULT_LIMITS
    if not isinstance(document, Mapping):
        raise PartnerConfigError(path, key, "expected a mapping of limit names to numbers")
    values: dict[str, Any] = {}
    for name, value in document.items():
        if name == "max_file_mib":
            if not isinstance(value, Mapping):
                raise PartnerConfigError(path, f"{key}.max_file_mib", "expected a mapping of format to MiB")
            values[name] = {**DEFAULT_LIMITS.max_file_mib}
            for file_format, size in value.items():
                if file_format not in DEFAULT_LIMITS.max_file_mib:
                    known = ", ".join(DEFAULT_LIMITS.max_file_mib)
                    raise PartnerConfigError(path, f"{key}.max_file_mib", f"unknown format '{file_format}' ({known})")
                values[name][file_format] = _positive(size, path, f"{key}.max_file_mib.{file_format}")
        elif name in _NUMBER_KEYS:
            number = _positive(value, path, f"{key}.{name}")
            values[name] = (
                int(number)
                if name in ("xlsx_max_members", "json_max_depth", "max_files_per_run", "max_folder_depth")
                else number
            )
        else:
            known = ", ".join(sorted({"max_file_mib", *_NUMBER_KEYS}))
            raise PartnerConfigError(path, f"{key}.{name}", f"unknown limit (known: {known})")
    return dataclasses.replace(DEFAULT_LIMITS, **values)


def _positive(value: Any, path: Path, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise PartnerConfigError(path, key, f"expected a positive number, got {value!r}")
    return value


class LongestLine:
    """A :class:`~assets.feeds.loading.file_scan.ChunkObserver` that measures the longest line, in bytes."""

    def __init__(self) -> None:
        self.longest = 0
        self.longest_line = 0  # 1-based number of the longest line
        self._current = 0  # bytes of the line in progress
        self._lines = 0  # complete lines so far

    def observe(self, buffer: bytes | bytearray, length: int) -> None:
        ends = np.flatnonzero(np.frombuffer(buffer, dtype=np.uint8, count=length) == 0x0A)
        if len(ends) == 0:
            self._current += length
            self._note(self._current, self._lines + 1)
            return
        first = self._current + int(ends[0])
        self._note(first, self._lines + 1)
        if len(ends) > 1:
            gaps = np.diff(ends) - 1
            at = int(np.argmax(gaps))
            self._note(int(gaps[at]), self._lines + 2 + at)
        self._lines += len(ends)
        self._current = length - int(ends[-1]) - 1
        self._note(self._current, self._lines + 1)

    def _note(self, size: int, line: int) -> None:
        if size > self.longest:
            self.longest, self.longest_line = size, line


def check_size(path: Path, size: int, file_format: str, limits: FileLimits) -> None:
    """The file's size against its format's limit (``max_file_mib``)."""
    allowed = limits.max_file_bytes(file_format)
    if size > allowed:
        raise LimitExceeded(
            path,
            None,
            "max_file_mib",
            f"file is {_mib(size)} MiB, over the limit for {file_format} files "
            f"(limits.max_file_mib.{file_format} = {_mib(allowed)} MiB)",
        )


def too_large_to_load(path: Path, size: int, file_format: str, rows: int | None, error: BaseException) -> LimitExceeded:
    """A file whose rows ran out of memory while written to the warehouse: refused, naming the limit to raise.

    Its size passed ``max_file_mib``, so the memory ingestion runs in (README "Memory bound") is what was too small.
    """
    return LimitExceeded(
        path,
        None,
        "memory",
        f"too large to load within ingestion's memory limit: its {f'{rows:,} ' if rows is not None else ''}rows "
        f"({_mib(size)} MiB of {file_format}) "
        f"ran out of memory while written to the warehouse ({type(error).__name__}); raise the memory ingestion runs "
        f"in, or lower limits.max_file_mib.{file_format} below {_mib(size)} MiB so such files are refused unread",
    )


def check_lines(path: Path, longest: LongestLine, limits: FileLimits) -> None:
    """The longest line of a delimited file against ``max_line_kib`` (one line, or one cell, of gigabytes)."""
    if longest.longest > limits.max_line_bytes:
        raise LimitExceeded(
            path,
            f"line {longest.longest_line}",
            "max_line_kib",
            f"line is {longest.longest / KIB:,.0f} KiB long, over the limit "
            f"(limits.max_line_kib = {limits.max_line_kib:,.0f} KiB)",
        )


def check_workbook(path: Path, limits: FileLimits) -> None:
    """An .xlsx archive's directory against the decompression limits, and its XML parts for DTDs; inflates little.

    A file that is not a zip archive at all is left to the parser, which says so in its own words.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    with archive:
        members = archive.infolist()
        if len(members) > limits.xlsx_max_members:
            raise LimitExceeded(
                path,
                None,
                "xlsx_max_members",
                f"workbook holds {len(members):,} parts, over the limit "
                f"(limits.xlsx_max_members = {limits.xlsx_max_members:,})",
            )
        total = 0
        for member in members:
            total += member.file_size
            where = f"part {member.filename}"
            if member.file_size > limits.xlsx_max_member_mib * MIB:
                raise LimitExceeded(
                    path,
                    where,
                    "xlsx_max_member_mib",
                    f"inflates to {_mib(member.file_size)} MiB, over the limit "
                    f"(limits.xlsx_max_member_mib = {limits.xlsx_max_member_mib:,} MiB)",
                )
            ratio = member.file_size / max(member.compress_size, 1)
            if member.file_size > MIB and ratio > limits.xlsx_max_ratio:
                raise LimitExceeded(
                    path,
                    where,
                    "xlsx_max_ratio",
                    f"inflates {ratio:,.0f} times ({_mib(member.compress_size)} MiB to {_mib(member.file_size)} MiB), "
                    f"over the limit (limits.xlsx_max_ratio = {limits.xlsx_max_ratio:,})",
                )
        if total > limits.xlsx_max_uncompressed_mib * MIB:
            raise LimitExceeded(
                path,
                None,
                "xlsx_max_uncompressed_mib",
                f"workbook inflates to {_mib(total)} MiB, over the limit "
                f"(limits.xlsx_max_uncompressed_mib = {limits.xlsx_max_uncompressed_mib:,} MiB)",
            )
        for member in members:
            if not member.filename.endswith((".xml", ".rels", ".vml")):
                continue
            try:
                with archive.open(member) as part:
                    prolog = part.read(XML_PROLOG_BYTES)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
                continue  # a damaged part: the parser reports it
            if _DOCTYPE.search(prolog):
                raise LimitExceeded(
                    path,
                    f"part {member.filename}",
                    "xml_doctype",
                    "declares an XML document type (DOCTYPE/ENTITY), refused by the xml_doctype rule: entity "
                    "expansion and external entities can read files or exhaust memory, and Excel never writes one",
                )


def check_json_depth(path: Path, data: bytes, limits: FileLimits) -> None:
    """JSON nesting (objects and arrays) against ``json_max_depth``, counted on the bytes outside strings.

    ``data`` is the document as UTF-8 (or any ASCII-compatible encoding); a document too broken to count is left
    to the JSON parser, which names the line.
    """
    stripped = _JSON_STRING.sub(b'""', data)
    codes = np.frombuffer(stripped, dtype=np.uint8)
    steps = np.zeros(len(codes), dtype=np.int8)
    steps[(codes == ord("[")) | (codes == ord("{"))] = 1
    steps[(codes == ord("]")) | (codes == ord("}"))] = -1
    depth = 0
    deepest = 0
    chunk = 1 << 22
    for begin in range(0, len(steps), chunk):
        running = np.cumsum(steps[begin : begin + chunk], dtype=np.int64) + depth
        if len(running):
            deepest = max(deepest, int(running.max()))
            depth = int(running[-1])
        if deepest > limits.json_max_depth:
            line = stripped.count(b"\n", 0, begin + int(np.argmax(running > limits.json_max_depth))) + 1
            raise LimitExceeded(
                path,
                f"line {line}",
                "json_max_depth",
                f"JSON nests deeper than the limit (limits.json_max_depth = {limits.json_max_depth})",
            )


def _mib(size: float) -> str:
    return f"{size / MIB:,.1f}"
