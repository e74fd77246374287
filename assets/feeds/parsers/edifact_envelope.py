"""EDIFACT interchanges of a delivered file: UNA service characters, segments and the UNB .. UNZ envelope checks.

An optional ``UNA`` service string advice sets the component and element separators, the decimal mark, the
release (escape) character and the segment terminator; without it the defaults ``:+.? '`` apply. Released
characters (``?+``, ``?:``, ``?'``, ``??``) are data, never separators. The character set comes from the first
UNB syntax identifier (UNOA/UNOB ASCII, UNOC Latin-1, UNOD..UNOF other ISO 8859 parts, UNOW/UNOY UTF-8); any
other is refused. Whitespace after a terminator and a UTF-8 byte order mark are tolerated, and a file may hold
several interchanges (each with its own UNA). Every count and reference pair is checked (UNT, UNE, UNZ) and each
problem is recorded as a :class:`Defect` at its segment (counted from the start of the file, UNA included) with
its CONTRL syntax error code (0085), so the first real defect is the one reported.

The file is read in chunks and segment by segment (``chunked_text.py``), twice: :func:`scan_edifact` checks every
envelope keeping no segment, then :meth:`EdifactFile.sets` hands on each message with its segments as soon as it
ends. Memory is bounded by the largest message, not by the file.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from assets.feeds.errors import FeedError
from assets.feeds.parsers.chunked_text import TextWindow, first_decode_error, preview
from assets.feeds.parsers.interchange import GROUP, INTERCHANGE, SET, Defect, Interchange, TransactionSet, Truncation

SUPPORTED_MESSAGES = ("INVRPT", "SLSRPT")
# Whatever is cut short lacks its trailer: 0085 13 (missing).
TRUNCATION = Truncation("edifact", "message", "UNT", "UNE", "UNZ", ("13", "13", "13"), names_group=False)

# UNB syntax identifier -> Python codec; UNOA/UNOB are ASCII subsets, read leniently as Latin-1.
CHARACTER_SETS = {
    "UNOA": "latin-1",
    "UNOB": "latin-1",
    "UNOC": "latin-1",
    "UNOD": "iso8859-2",
    "UNOE": "iso8859-5",
    "UNOF": "iso8859-7",
    "UNOW": "utf-8",
    "UNOY": "utf-8",
}


@dataclass(frozen=True)
class Syntax:
    """Separators and release character of one interchange (from UNA, or the EDIFACT defaults)."""

    component: str = ":"
    element: str = "+"
    decimal: str = "."
    release: str = "?"
    terminator: str = "'"


@dataclass(frozen=True)
class Segment:
    """One segment: ``elements[i]`` is a list of components, released characters already resolved."""

    number: int
    elements: tuple[tuple[str, ...], ...]  # elements[0] == (tag,)
    text: str

    @property
    def tag(self) -> str:
        return self.elements[0][0]

    def get(self, element: int, component: int = 0) -> str:
        """Component ``component`` of element ``element`` (``LIN+1++123:EN``: get(3, 1) == "EN"), '' if absent."""
        if element >= len(self.elements) or component >= len(self.elements[element]):
            return ""
        return self.elements[element][component].strip()


@dataclass
class EdifactFile:
    """A scanned EDIFACT file: its interchanges with every envelope defect (no segments kept), and how to re-read it."""

    path: Path
    codec: str
    skip: int  # bytes of a byte order mark
    interchanges: list[Interchange] = field(default_factory=list)
    syntaxes: list[Syntax] = field(default_factory=list)  # per interchange

    def sets(self) -> Iterator[tuple[Interchange, Syntax, TransactionSet]]:
        """Every message in file order, its segments attached until the caller asks for the next one.

        The file is read a second time; a message is handed on as soon as it ends, so only one is held at a time.
        """
        for walk, completed in _walk_file(self.path, self.codec, self.skip, set(), keep=True):
            interchange = self.interchanges[walk.index - 1]
            for position, message in completed:
                scanned = interchange.sets[position]
                scanned.segments = message.segments
                yield interchange, walk.syntax, scanned
                # Neither this walk's copy nor the scanned set keeps the segments once they are read.
                scanned.segments = message.segments = []


def scan_edifact(path: Path) -> EdifactFile:
    """Every interchange of the file with its groups, messages and envelope defects, read segment by segment.

    Raises FeedError when the file is not EDIFACT (no UNB first), or its character set is unknown or wrong.
    """
    head = preview(path)
    if not head:
        raise FeedError(path, None, "empty file (0 bytes)")
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or b"\x00" in head[:256]:
        raise FeedError(path, None, "unsupported encoding: UTF-16 (EDIFACT character sets are 8-bit, UNOA..UNOY)")
    skip = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
    identifier, first = _character_set(path, skip)
    codec = CHARACTER_SETS.get(identifier)
    if codec is None:
        raise FeedError(
            path,
            f"segment {first}",
            f"unsupported character set '{identifier}' in UNB (expected one of {', '.join(CHARACTER_SETS)})",
        )
    error = first_decode_error(path, codec, skip)
    if error is not None:
        raise FeedError(
            path,
            f"segment {first}",
            f"bytes at offset {error.start} are not valid {identifier} ({codec}) text: {error.reason}",
        )
    scanned = EdifactFile(path, codec, skip)
    for walk, _ in _walk_file(path, codec, skip, set(), keep=False):
        scanned.interchanges.append(walk.interchange)
        scanned.syntaxes.append(walk.syntax)
    return scanned


def _character_set(path: Path, skip: int) -> tuple[str, int]:
    """The first UNB's syntax identifier (and the UNB's segment number), read from the start of the file."""
    with TextWindow(path, "latin-1", skip) as window:
        position = window.skip_space(0)
        if position >= len(window.text):
            raise FeedError(path, None, "empty file (no text)")
        syntax, first = _una_at(window, position, path)
        if first == 2:
            position = window.skip_space(position + 9)
        window.ensure(position, 4)
        if not window.text.startswith("UNB" + syntax.element, position):
            found = window.text[position : position + 3]
            raise FeedError(path, f"segment {first}", f"not an EDIFACT interchange: expected UNB, found {found!r}")
        separators = re.compile(f"[{re.escape(syntax.component + syntax.element + syntax.terminator)}]")
        start = position + 4
        while True:
            found = separators.search(window.text, start)
            if found is not None or not window.more():
                end = found.start() if found is not None else len(window.text)
                return window.text[start:end], first


def _una(text: str, path: Path) -> tuple[Syntax, int]:
    if not text.startswith("UNA"):
        return Syntax(), 1
    if len(text) < 9:
        raise FeedError(path, "segment 1", "truncated UNA service string advice (needs 6 characters)")
    una = text[3:9]
    return Syntax(component=una[0], element=una[1], decimal=una[2], release=una[3], terminator=una[5]), 2


def _una_at(window: TextWindow, position: int, path: Path) -> tuple[Syntax, int]:
    window.ensure(position, 9)
    return _una(window.text[position : position + 9], path)


# What the segment reader hands on: an interchange starts (its syntax), a terminated segment, or the last segment
# of the file without its terminator.
START, SEGMENT, UNTERMINATED = "start", "segment", "unterminated"


def _segments(path: Path, codec: str, skip: int) -> Iterator[tuple[str, Syntax | Segment]]:
    """The file's segments in order, each interchange with the service characters its own UNA declares.

    Whitespace after a terminator is skipped; a segment number counts from the start of the file, UNA included.
    """
    with TextWindow(path, codec, skip) as window:
        position, number = 0, 0
        while True:
            position = window.drop(window.skip_space(position))
            if position >= len(window.text):
                return
            syntax, _ = _una_at(window, position, path)
            if window.text.startswith("UNA", position):
                position += 9
                number += 1
            yield START, syntax
            release, terminator = re.escape(syntax.release), re.escape(syntax.terminator)
            pattern = re.compile(f"((?:{release}.|[^{release}{terminator}])*){terminator}", re.DOTALL)
            count = 0
            while True:
                position = window.drop(position)
                if position >= len(window.text) and not window.more():
                    break
                match = pattern.match(window.text, position)
                if match is None and window.more():
                    continue
                if match is None:
                    body = window.text[position:].strip()
                    position = len(window.text)
                    if body:
                        number += 1
                        yield UNTERMINATED, _segment(number, body, syntax)
                    break
                body = match.group(1).lstrip()
                if not body.strip():
                    position = match.end()
                    continue
                if body.startswith(("UNA", "UNB")) and count:
                    break  # the next interchange, before this one's UNZ
                position = match.end()
                number += 1
                count += 1
                segment = _segment(number, body, syntax)
                yield SEGMENT, segment
                if segment.tag == "UNZ":
                    break


def _walk_file(
    path: Path, codec: str, skip: int, seen: set[str], *, keep: bool
) -> Iterator[tuple[_Walk, list[tuple[int, TransactionSet]]]]:
    """Each interchange once it ends, with the messages it completed (segments kept if ``keep``).

    With ``keep`` each message is handed on as it ends (``(walk, [message])``), then ``(walk, [])`` at the end of
    its interchange, so one message is held at a time.
    """
    walk: _Walk | None = None
    index = 0
    for kind, item in _segments(path, codec, skip):
        if kind == START:
            if walk is not None:
                yield from _ended(walk, None, keep)
            index += 1
            walk = _Walk(index, seen, keep, item)
        elif kind == SEGMENT:
            walk.add(item)
            if keep and walk.completed:
                yield walk, _drain(walk)
        else:
            yield from _ended(walk, item, keep)
            walk = None
    if walk is not None:
        yield from _ended(walk, None, keep)


def _ended(walk: _Walk, unterminated: Segment | None, keep: bool):
    walk.finish(unterminated)
    if keep and walk.completed:
        yield walk, _drain(walk)
    yield walk, [] if keep else _drain(walk)


def _drain(walk: _Walk) -> list[tuple[int, TransactionSet]]:
    completed, walk.completed = walk.completed, []
    return completed


class _Walk:
    """One interchange's envelope, checked segment by segment: UNB, groups, messages and every count and reference.

    Completed messages go to ``completed`` as ``(position in interchange.sets, message)``; with ``keep`` they carry
    their segments, and the walk keeps none (a message's UNT is checked on a count).
    """

    def __init__(self, index: int, seen: set[str], keep: bool, syntax: Syntax) -> None:
        self.index = index
        self.seen = seen
        self.keep = keep
        self.syntax = syntax
        self.interchange = Interchange("edifact", index, 1, "")
        self.completed: list[tuple[int, TransactionSet]] = []
        self.first: Segment | None = None
        self.unb: Segment | None = None
        self.done = False  # UNZ read, or the interchange does not start with UNB
        self.mark = 0
        self.groups = 0
        self.group: Segment | None = None
        self.group_messages = 0
        self.current: TransactionSet | None = None
        self.count = 0
        self.last: Segment | None = None

    def add(self, segment: Segment) -> None:
        if self.first is None:
            self._open(segment)
        elif not self.done:
            self._step(segment)

    def finish(self, unterminated: Segment | None) -> Interchange:
        interchange = self.interchange
        if self.first is None:
            if unterminated is not None and unterminated.tag == "UNZ":
                self._open(unterminated)
                if self.unb is None:
                    return interchange
            else:
                interchange.first_segment = unterminated.number if unterminated is not None else 1
                tag = unterminated.tag if unterminated is not None else ""
                interchange.defects.append(
                    Defect(INTERCHANGE, interchange.first_segment, f"data after UNZ: {tag!r}", tag, edifact_code="22")
                )
                return interchange
        elif self.unb is None:
            return interchange
        elif unterminated is not None and unterminated.tag == "UNZ":
            self.add(unterminated)
        elif unterminated is not None:
            defect = TRUNCATION.unterminated(unterminated.number, unterminated.text.strip(), self.syntax.terminator)
            interchange.defects.insert(self.mark, defect)
        if not self.done:
            self._end()
        return interchange

    def _open(self, first: Segment) -> None:
        self.first = self.last = first
        interchange = self.interchange
        interchange.first_segment = first.number
        defects = interchange.defects
        if first.tag != "UNB":
            defects.append(
                Defect(INTERCHANGE, first.number, f"data after UNZ: {first.tag!r}", first.tag, edifact_code="22")
            )
            self.done = True
            return
        unb = self.unb = first
        interchange.control_number = unb.get(5)
        interchange.sender, interchange.sender_qualifier = unb.get(2), unb.get(2, 1)
        interchange.receiver, interchange.receiver_qualifier = unb.get(3), unb.get(3, 1)
        interchange.version = f"{unb.get(1)}:{unb.get(1, 1)}"
        interchange.test = unb.get(11) == "1"
        interchange.prepared = (unb.get(4), unb.get(4, 1))
        reference = interchange.control_number
        if not reference:
            defects.append(
                Defect(
                    INTERCHANGE,
                    unb.number,
                    "UNB interchange control reference (0020) is empty",
                    "UNB",
                    5,
                    edifact_code="13",
                )
            )
        elif reference in self.seen:
            defects.append(
                Defect(
                    INTERCHANGE,
                    unb.number,
                    f"UNB reference {reference} repeats an earlier interchange of this file",
                    "UNB",
                    5,
                    edifact_code="26",
                )
            )
        self.seen.add(reference)
        self.mark = len(defects)

    def _complete(self) -> None:
        self.completed.append((len(self.interchange.sets) - 1, self.current))
        self.current = None

    def _step(self, segment: Segment) -> None:  # noqa: C901 - one branch per envelope segment, as the standard lists them
        interchange = self.interchange
        defects = interchange.defects
        reference = interchange.control_number
        group, current = self.group, self.current
        self.last = segment
        tag = segment.tag
        where = segment.number
        if tag == "UNZ":
            if current is not None:
                current.defects.append(
                    Defect(SET, where, f"UNZ before UNT closed message {current.control}", "UNT", edifact_code="13")
                )
                self._complete()
            if group is not None:
                defects.append(
                    Defect(GROUP, where, f"UNZ before UNE closed group {group.get(5)}", "UNE", edifact_code="13")
                )
            counted, what = (
                (self.groups, "functional groups (UNG)") if self.groups else (len(interchange.sets), "messages (UNH)")
            )
            declared = segment.get(1)
            if not (declared.isdigit() and int(declared) == counted):
                defects.append(
                    Defect(
                        INTERCHANGE,
                        where,
                        f"UNZ says {declared or 'nothing'} {what} but {counted} were sent",
                        "UNZ",
                        1,
                        edifact_code="29",
                    )
                )
            if segment.get(2) != reference:
                defects.append(
                    Defect(
                        INTERCHANGE,
                        where,
                        f"UNZ reference '{segment.get(2)}' differs from UNB '{reference}'",
                        "UNZ",
                        2,
                        edifact_code="28",
                    )
                )
            self.done = True
            return
        if tag == "UNG":
            self.group, self.group_messages = segment, 0
            return
        if tag == "UNE":
            if group is None:
                defects.append(Defect(INTERCHANGE, where, "UNE without an open group", "UNE", edifact_code="15"))
                return
            declared = segment.get(1)
            if not (declared.isdigit() and int(declared) == self.group_messages):
                defects.append(
                    Defect(
                        GROUP,
                        where,
                        f"UNE says {declared or 'nothing'} messages (UNH) but {self.group_messages} were sent",
                        "UNE",
                        1,
                        edifact_code="29",
                        value=group.get(5),
                    )
                )
            if segment.get(2) != group.get(5):
                defects.append(
                    Defect(
                        GROUP,
                        where,
                        f"UNE reference '{segment.get(2)}' differs from UNG '{group.get(5)}'",
                        "UNE",
                        2,
                        edifact_code="28",
                        value=group.get(5),
                    )
                )
            self.groups += 1
            self.group = None
            return
        if tag == "UNH":
            if current is not None:
                current.defects.append(
                    Defect(SET, where, f"UNH before UNT closed message {current.control}", "UNT", edifact_code="13")
                )
                self._complete()
            kind = segment.get(2)
            version = ":".join(segment.elements[2]) if len(segment.elements) > 2 else ""
            current = TransactionSet(kind, segment.get(1), where, version, group.get(5) if group is not None else "")
            self.current, self.count = current, 1
            if self.keep:
                current.segments.append(segment)
            interchange.sets.append(current)
            self.group_messages += 1
            if kind not in SUPPORTED_MESSAGES:
                current.defects.append(
                    Defect(
                        SET,
                        where,
                        f"message type {kind or '?'} is not supported (expected {' or '.join(SUPPORTED_MESSAGES)})",
                        "UNH",
                        2,
                        edifact_code="14",
                    )
                )
            return
        if current is None:
            defects.append(
                Defect(INTERCHANGE, where, f"{tag} segment outside a message (UNH missing)", tag, edifact_code="15")
            )
            return
        self.count += 1
        if self.keep:
            current.segments.append(segment)
        if tag == "UNT":
            declared = segment.get(1)
            if not (declared.isdigit() and int(declared) == self.count):
                current.defects.append(
                    Defect(
                        SET,
                        where,
                        f"UNT says {declared or 'nothing'} segments but message {current.control} has {self.count} "
                        "(UNH to UNT)",
                        "UNT",
                        1,
                        edifact_code="29",
                    )
                )
            if segment.get(2) != current.control:
                current.defects.append(
                    Defect(
                        SET,
                        where,
                        f"UNT reference '{segment.get(2)}' differs from UNH '{current.control}'",
                        "UNT",
                        2,
                        edifact_code="28",
                    )
                )
            self._complete()

    def _end(self) -> None:
        """The interchange ended without its UNZ: what is still open is truncated."""
        TRUNCATION.close(self.interchange, self.last.number, self.current, self._complete, self.group is not None)


def _segment(number: int, raw: str, syntax: Syntax) -> Segment:
    elements = tuple(
        tuple(_unescape(component, syntax.release) for component in _split(element, syntax.component, syntax.release))
        for element in _split(raw, syntax.element, syntax.release)
    )
    return Segment(number, elements, raw)


def _split(text: str, separator: str, release: str) -> list[str]:
    """Split on separators that are not released; released characters stay escaped for :func:`_unescape`."""
    if release not in text:
        return text.split(separator)
    parts: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == release and index + 1 < len(text):
            current.append(text[index : index + 2])
            index += 2
            continue
        if char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def _unescape(text: str, release: str) -> str:
    if release not in text:
        return text
    return re.sub(f"{re.escape(release)}(.)", r"\1", text, flags=re.DOTALL)
