"""X12 interchanges of a delivered file: separators, segments and the ISA/GS/ST .. SE/GE/IEA envelope checks.

The file is read in chunks and segment by segment (``chunked_text.py``), twice: :func:`scan_x12` checks every
envelope keeping no segment, then :meth:`X12File.sets` hands on each transaction set with its segments as soon
as it ends. Memory is bounded by the largest transaction set, not by the file.

Separators are read from each ISA header, never assumed: the element separator is the 4th character, ISA16 the
component separator and the character after it the segment terminator; ISA fields are found by counting
separators, so unusual field widths do not matter. Whitespace (CR/LF, indentation) after a terminator and a
UTF-8 byte order mark are tolerated, and a file may hold several interchanges, each read with its own separators
and checked on its own. Every control count and control number is checked (SE01, SE02, CTT01, GE01, GE02, IEA01,
IEA02) and each problem is recorded as a :class:`Defect` at its segment (numbered from the first ISA = 1 through
the whole file) with the 997/999/TA1 code for it, so the real defect is reported first whatever else is wrong.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from assets.feeds.errors import FeedError
from assets.feeds.parsers.chunked_text import TextWindow, first_decode_error, preview
from assets.feeds.parsers.interchange import (
    ELEMENT,
    GROUP,
    INTERCHANGE,
    SET,
    Defect,
    Interchange,
    TransactionSet,
    Truncation,
)

SUPPORTED_SETS = ("852", "846")
# A set cut short: AK5 2 (trailer missing); a group: AK9 3 (trailer missing); the interchange: TA1 023 (premature end).
TRUNCATION = Truncation("x12", "transaction set", "SE", "GE", "IEA", ("2", "3", "023"), names_group=True)
ISA_ELEMENTS = 16


@dataclass(frozen=True)
class Separators:
    element: str
    component: str
    segment: str


@dataclass(frozen=True)
class Segment:
    """One segment; ``number`` counts from the first ISA = 1 through the whole file."""

    number: int
    elements: tuple[str, ...]  # elements[0] is the tag
    text: str

    @property
    def tag(self) -> str:
        return self.elements[0].strip()

    def __getitem__(self, index: int) -> str:
        """Element ``index`` (1-based, as X12 numbers them: ``seg[1]`` is ST01), '' when absent."""
        return self.elements[index].strip() if index < len(self.elements) else ""


@dataclass
class X12File:
    """A scanned X12 file: its interchanges with every envelope defect (no segments kept), and how to re-read it."""

    path: Path
    codec: str
    skip: int  # bytes of a byte order mark
    interchanges: list[Interchange] = field(default_factory=list)
    separators: list[Separators] = field(default_factory=list)  # per interchange

    def sets(self) -> Iterator[tuple[Interchange, Separators, TransactionSet]]:
        """Every transaction set in file order, its segments attached until the caller asks for the next one.

        The file is read a second time; a set is handed on as soon as it ends, so only one is held at a time.
        """
        walks = _walk_file(self.path, self.codec, self.skip, set(), keep=True)
        for walk, separators, completed in walks:
            interchange = self.interchanges[walk.index - 1]
            for position, transaction in completed:
                scanned = interchange.sets[position]
                scanned.segments = transaction.segments
                yield interchange, separators, scanned
                # Neither this walk's copy nor the scanned set keeps the segments once they are read.
                scanned.segments = transaction.segments = []


def scan_x12(path: Path) -> X12File:
    """Every interchange of the file with its groups, sets and envelope defects, read segment by segment.

    Raises FeedError only when the file is not X12 at all (empty, UTF-16, no ISA first) or an ISA cannot be read;
    a later interchange that is cut off or unreadable is returned with its defects.
    """
    head = preview(path)
    if not head:
        raise FeedError(path, None, "empty file (0 bytes)")
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or b"\x00" in head[:256]:
        raise FeedError(path, None, "unsupported encoding: UTF-16 (X12 interchanges are 8-bit text)")
    skip = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
    # The X12 extended character set predates UTF-8; Latin-1 keeps every byte (and the ISA widths).
    codec = "utf-8" if first_decode_error(path, "utf-8", skip) is None else "latin-1"
    scanned = X12File(path, codec, skip)
    for walk, separators, _ in _walk_file(path, codec, skip, set(), keep=False):
        scanned.interchanges.append(walk.interchange)
        scanned.separators.append(separators)
    return scanned


def _separators(text: str, start: int, number: int, path: Path) -> Separators:
    element = text[start + 3] if len(text) > start + 3 else ""
    if not element or element.isalnum() or element.isspace():
        raise FeedError(path, f"segment {number}", f"cannot tell the element separator after ISA: {element!r}")
    position = start + 3
    for _ in range(ISA_ELEMENTS - 1):
        position = text.find(element, position + 1)
        if position < 0:
            raise FeedError(path, f"segment {number}", f"truncated ISA header: fewer than {ISA_ELEMENTS} elements")
    if position + 2 >= len(text):
        raise FeedError(path, f"segment {number}", "truncated ISA header: no ISA16 and segment terminator")
    component, terminator = text[position + 1], text[position + 2]
    if terminator.isalnum() or terminator in (element, component) or terminator == " ":
        raise FeedError(
            path, f"segment {number}", f"cannot tell the segment terminator: {terminator!r} follows ISA16 {component!r}"
        )
    return Separators(element, component, terminator)


def _window_separators(window: TextWindow, start: int, number: int, path: Path) -> Separators:
    """The ISA's separators, reading on while the header may only look truncated because the window ends."""
    while True:
        try:
            return _separators(window.text, start, number, path)
        except FeedError:
            if not window.more():
                raise


# What the segment reader hands on: an interchange starts (its separators), a terminated segment, the last
# segment of the file without its terminator, or data after the last IEA (neither segment of an interchange).
START, SEGMENT, UNTERMINATED, TAIL = "start", "segment", "unterminated", "tail"
MAX_TAIL_CHARS = 4096  # of data after the last IEA, kept for the defect that quotes it


def _segments(path: Path, codec: str, skip: int) -> Iterator[tuple[str, Separators | Segment]]:
    """The file's segments in order, each interchange with the separators its own ISA declares.

    Whitespace (CR/LF, indentation) after a terminator is skipped; a segment number counts from the first ISA = 1
    through the whole file.
    """
    with TextWindow(path, codec, skip) as window:
        window.ensure(0, 3)
        head = window.text[:3]
        position, number, started = 0, 0, False
        separators: Separators | None = None
        while True:
            position = window.drop(window.skip_space(position))
            if position >= len(window.text):
                if not started:
                    raise FeedError(path, None, "empty file (no text)")
                return
            window.ensure(position, 3)
            if not window.text.startswith("ISA", position):
                if not started:
                    raise FeedError(path, "segment 1", f"not an X12 interchange: expected 'ISA', found {head!r}")
                tail = window.rest(position, MAX_TAIL_CHARS).strip()
                yield TAIL, Segment(number + 1, (tail,), tail)
                return
            separators = _window_separators(window, position, number + 1, path)
            started = True
            yield START, separators
            count = 0
            while True:
                position = window.drop(position)
                end = window.find(separators.segment, position)
                if end < 0:
                    body = window.text[position:].strip()
                    position = len(window.text)
                    if body:
                        number += 1
                        yield UNTERMINATED, Segment(number, tuple(body.split(separators.element)), body)
                    break
                body = window.text[position:end].lstrip()
                if not body.strip():
                    position = end + 1
                    continue
                if body.startswith("ISA") and count:
                    break  # a new interchange before this one's IEA
                position = end + 1
                number += 1
                count += 1
                segment = Segment(number, tuple(body.split(separators.element)), body)
                yield SEGMENT, segment
                if segment.tag == "IEA":
                    break


def _walk_file(
    path: Path, codec: str, skip: int, seen: set[str], *, keep: bool
) -> Iterator[tuple[_Walk, Separators, list[tuple[int, TransactionSet]]]]:
    """Each interchange once it ends, with the sets it completed (``(position, set)``, segments kept if ``keep``).

    With ``keep`` the sets are handed on as each ends rather than with their interchange, so one set is held at a
    time: the generator yields ``(walk, separators, [set])`` for every set and ``(walk, separators, [])`` at the end.
    """
    walk: _Walk | None = None
    separators: Separators | None = None
    index = 0
    for kind, item in _segments(path, codec, skip):
        if kind == START:
            if walk is not None:
                yield from _ended(walk, separators, None, keep)
            index += 1
            walk, separators = _Walk(index, seen, keep, item), item
        elif kind == SEGMENT:
            walk.add(item)
            if keep and walk.completed:
                yield walk, separators, _drain(walk)
        elif kind == UNTERMINATED:
            yield from _ended(walk, separators, item, keep)
            walk = None
        else:  # data after the last IEA: an interchange of its own, refused
            if walk is not None:
                yield from _ended(walk, separators, None, keep)
            index += 1
            walk = _Walk(index, seen, keep, separators)
            yield from _ended(walk, separators, item, keep)
            walk = None
    if walk is not None:
        yield from _ended(walk, separators, None, keep)


def _ended(walk: _Walk, separators, unterminated: Segment | None, keep: bool):
    walk.finish(unterminated)
    if keep and walk.completed:
        yield walk, separators, _drain(walk)
    yield walk, separators, [] if keep else _drain(walk)


def _drain(walk: _Walk) -> list[tuple[int, TransactionSet]]:
    completed, walk.completed = walk.completed, []
    return completed


class _Walk:
    """One interchange's envelope, checked segment by segment: ISA, groups, sets and every control count.

    Completed sets go to ``completed`` as ``(position in interchange.sets, set)``; with ``keep`` they carry their
    segments, and the walk itself keeps none (a set's trailer is checked on counts).
    """

    def __init__(self, index: int, seen_controls: set[str], keep: bool, separators: Separators | None) -> None:
        self.index = index
        self.separators = separators
        self.seen = seen_controls
        self.keep = keep
        self.interchange = Interchange(standard="x12", index=index, first_segment=1, control_number="")
        self.completed: list[tuple[int, TransactionSet]] = []
        self.started = False
        self.done = False  # IEA read
        self.mark = 0  # where the truncation defect goes, after those of the ISA (as when it was checked first)
        self.group: Segment | None = None
        self.group_sets = 0
        self.groups = 0
        self.current: TransactionSet | None = None
        self.count = 0  # segments of the current set, ST to SE
        self.items = 0  # LIN segments of the current set
        self.line_counts: list[Segment] = []  # CTT segments of the current set
        self.last: Segment | None = None

    def add(self, segment: Segment) -> None:
        if not self.started:
            self._open(segment)
        elif not self.done:
            self._step(segment)

    def finish(self, unterminated: Segment | None) -> Interchange:
        interchange = self.interchange
        if not self.started:
            # Nothing but data after the last IEA: refused as such.
            first = unterminated
            interchange.first_segment = first.number if first is not None else 1
            text = first.text[:40] if first is not None else ""
            interchange.defects.append(
                Defect(INTERCHANGE, interchange.first_segment, f"data after IEA: {text!r}", "", x12_code="024")
            )
            return interchange
        if unterminated is not None and unterminated.tag == "IEA":
            # Only the final terminator is missing: the trailer is all there, so it is read (and the gap noted).
            self.add(unterminated)
        elif unterminated is not None:
            defect = TRUNCATION.unterminated(unterminated.number, unterminated.text, self.separators.segment)
            interchange.defects.insert(self.mark, defect)
        if not self.done:
            self._end()
        return interchange

    def _open(self, isa: Segment) -> None:
        self.started = True
        self.last = isa
        interchange = self.interchange
        interchange.first_segment = isa.number
        interchange.control_number = isa[13]
        interchange.sender_qualifier, interchange.sender = isa[5], isa[6]
        interchange.receiver_qualifier, interchange.receiver = isa[7], isa[8]
        interchange.version, interchange.test = isa[12], isa[15] == "T"
        interchange.prepared = (isa[9], isa[10])
        defects = interchange.defects
        if not interchange.control_number:
            defects.append(
                Defect(INTERCHANGE, isa.number, "ISA13 interchange control number is empty", "ISA", 13, x12_code="018")
            )
        elif interchange.control_number in self.seen:
            defects.append(
                Defect(
                    INTERCHANGE,
                    isa.number,
                    f"ISA13 {interchange.control_number} repeats an earlier interchange of this file",
                    "ISA",
                    13,
                    x12_code="025",
                )
            )
        self.seen.add(interchange.control_number)
        self.mark = len(defects)

    def _complete(self) -> None:
        current = self.current
        self.completed.append((len(self.interchange.sets) - 1, current))
        self.current = None

    def _close_missing_se(self, segment: Segment) -> None:
        if self.current is not None:
            _close_missing_se(self.current, segment)
            self._complete()

    def _step(self, segment: Segment) -> None:  # noqa: C901 - one branch per envelope segment, as the standard lists them
        interchange = self.interchange
        defects = interchange.defects
        group = self.group
        self.last = segment
        tag = segment.tag
        if tag == "IEA":
            self._close_missing_se(segment)
            if group is not None:
                defects.append(
                    Defect(GROUP, segment.number, f"group {group[6]} has no GE", "GE", x12_code="3", value=group[6])
                )
                self.group = None
            if not (segment[1].isdigit() and int(segment[1]) == self.groups):
                defects.append(
                    Defect(
                        INTERCHANGE,
                        segment.number,
                        f"IEA01 says {segment[1] or 'nothing'} functional groups (GS) but {self.groups} were sent",
                        "IEA",
                        1,
                        x12_code="021",
                    )
                )
            if segment[2] != interchange.control_number:
                defects.append(
                    Defect(
                        INTERCHANGE,
                        segment.number,
                        f"IEA02 '{segment[2]}' differs from ISA13 '{interchange.control_number}'",
                        "IEA",
                        2,
                        x12_code="001",
                    )
                )
            self.done = True
            return
        if tag == "GS":
            self._close_missing_se(segment)
            if group is not None:
                defects.append(
                    Defect(
                        GROUP,
                        segment.number,
                        f"GS before GE closed group {group[6]}",
                        "GS",
                        x12_code="3",
                        value=group[6],
                    )
                )
            self.group, self.group_sets = segment, 0
            if not interchange.group_version:
                interchange.group_version = segment[8]
            return
        if tag == "GE":
            if group is None:
                defects.append(Defect(INTERCHANGE, segment.number, "GE without GS", "GE", x12_code="024"))
                return
            self._close_missing_se(segment)
            if not (segment[1].isdigit() and int(segment[1]) == self.group_sets):
                defects.append(
                    Defect(
                        GROUP,
                        segment.number,
                        f"GE01 says {segment[1] or 'nothing'} transaction sets (ST) but {self.group_sets} were sent",
                        "GE",
                        1,
                        x12_code="5",
                        value=group[6],
                    )
                )
            if segment[2] != group[6]:
                defects.append(
                    Defect(
                        GROUP,
                        segment.number,
                        f"GE02 '{segment[2]}' differs from GS06 '{group[6]}'",
                        "GE",
                        2,
                        x12_code="4",
                        value=group[6],
                    )
                )
            interchange.groups.append((group[1], group[6], group[8], self.group_sets))
            self.groups += 1
            self.group = None
            return
        if tag == "ST":
            self._close_missing_se(segment)
            if group is None:
                defects.append(
                    Defect(
                        INTERCHANGE, segment.number, "ST outside a functional group (GS missing)", "ST", x12_code="024"
                    )
                )
            current = TransactionSet(
                segment[1],
                segment[2],
                segment.number,
                group[8] if group else "",
                group[6] if group else "",
                group[1] if group else "",
            )
            self.current, self.count, self.items, self.line_counts = current, 1, 0, []
            if self.keep:
                current.segments.append(segment)
            interchange.sets.append(current)
            self.group_sets += 1
            if segment[1] not in SUPPORTED_SETS:
                current.defects.append(
                    Defect(
                        SET,
                        segment.number,
                        f"transaction set {segment[1]} is not supported (expected {' or '.join(SUPPORTED_SETS)})",
                        "ST",
                        1,
                        x12_code="1",
                        edifact_code="",
                    )
                )
            return
        current = self.current
        if current is None:
            defects.append(
                Defect(
                    INTERCHANGE,
                    segment.number,
                    f"{tag} segment outside a transaction set (ST missing)",
                    tag,
                    x12_code="024",
                )
            )
            return
        self.count += 1
        if self.keep:
            current.segments.append(segment)
        if tag == "LIN":
            self.items += 1
        elif tag == "CTT":
            self.line_counts.append(segment)
        elif tag == "SE":
            _check_set_trailer(current, segment, self.count, self.items, self.line_counts)
            self._complete()

    def _end(self) -> None:
        """The interchange ended without its IEA: what is still open is truncated."""
        group = self.group
        TRUNCATION.close(
            self.interchange,
            self.last.number,
            self.current,
            self._complete,
            group is not None,
            group[6] if group else "",
        )


def _close_missing_se(current: TransactionSet, segment: Segment) -> None:
    current.defects.append(
        Defect(
            SET, segment.number, f"{segment.tag} before SE closed transaction set {current.control}", "SE", x12_code="2"
        )
    )


def _check_set_trailer(
    current: TransactionSet, segment: Segment, counted: int, items: int, line_counts: list[Segment]
) -> None:
    if not (segment[1].isdigit() and int(segment[1]) == counted):
        current.defects.append(
            Defect(
                SET,
                segment.number,
                f"SE01 says {segment[1] or 'nothing'} segments but transaction set {current.control} has {counted} "
                "(ST to SE)",
                "SE",
                1,
                x12_code="4",
            )
        )
    if segment[2] != current.control:
        current.defects.append(
            Defect(
                SET, segment.number, f"SE02 '{segment[2]}' differs from ST02 '{current.control}'", "SE", 2, x12_code="3"
            )
        )
    for item in line_counts:
        if not (item[1].isdigit() and int(item[1]) == items):
            current.defects.append(
                Defect(
                    SET,
                    item.number,
                    f"CTT01 says {item[1] or 'nothing'} line items but transaction set {current.control} has {items} "
                    "LIN segments",
                    "CTT",
                    1,
                    x12_code="5",
                )
            )


# Elements the standard allows in segments whose contents the parser reads (004010; later versions add none here).
MAX_ELEMENTS = {"REF": 4, "QTY": 4, "DTM": 6, "N1": 6, "CTT": 7, "XQ": 3, "BIA": 6, "UIT": 3, "SE": 2}


def element_defects(segment: Segment, separators: Separators) -> list[Defect]:
    """Non-fatal syntax problems of one segment: too many elements (a lost terminator), a unit code too long."""
    found: list[Defect] = []
    allowed = MAX_ELEMENTS.get(segment.tag)
    count = len(segment.elements) - 1
    if allowed is not None and count > allowed:
        extra = separators.element.join(segment.elements[allowed + 1 :])
        found.append(
            Defect(
                ELEMENT,
                segment.number,
                f"{segment.tag} has {count} elements where the standard allows {allowed} (extra: {extra!r}; a segment "
                "terminator may be missing)",
                segment.tag,
                allowed + 1,
                x12_code="3",
                fatal=False,
                value=extra[:99],
            )
        )
    if segment.tag == "QTY" and segment[3]:
        unit = segment[3].split(separators.component)[0]
        if len(unit) != 2:
            found.append(
                Defect(
                    ELEMENT,
                    segment.number,
                    f"QTY03 unit '{unit}' is not a two-character unit code",
                    "QTY",
                    3,
                    x12_code="5" if len(unit) > 2 else "4",
                    fatal=False,
                    value=unit,
                )
            )
    return found
