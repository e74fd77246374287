"""X12 interchanges of a delivered file: separators, segments and the ISA/GS/ST .. SE/GE/IEA envelope checks.

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
from dataclasses import dataclass
from pathlib import Path

from assets.feeds.errors import FeedError
from assets.feeds.parsers.interchange import (
    ELEMENT,
    GROUP,
    INTERCHANGE,
    SET,
    Defect,
    Interchange,
    TransactionSet,
)

SUPPORTED_SETS = ("852", "846")
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
class RawInterchange:
    separators: Separators
    segments: list[Segment]
    unterminated: Segment | None = None  # a last segment without its terminator


def decode(data: bytes, path: Path) -> str:
    if not data:
        raise FeedError(path, None, "empty file (0 bytes)")
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or b"\x00" in data[:256]:
        raise FeedError(path, None, "unsupported encoding: UTF-16 (X12 interchanges are 8-bit text)")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # The X12 extended character set predates UTF-8; Latin-1 keeps every byte (and the ISA widths).
        text = data.decode("latin-1")
    if not text.strip():
        raise FeedError(path, None, "empty file (no text)")
    return text


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


def split_interchanges(data: bytes, path: Path) -> list[RawInterchange]:
    """Every interchange of the file, split into segments with the separators its own ISA declares.

    Raises FeedError only when the file is not X12 at all (no ISA first) or its first ISA cannot be read; a later
    interchange that is cut off or unreadable is returned with what it has, for :func:`check_interchange`.
    """
    text = decode(data, path)
    interchanges: list[RawInterchange] = []
    position, number = 0, 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            break
        if not text.startswith("ISA", position):
            if not interchanges:
                raise FeedError(path, "segment 1", f"not an X12 interchange: expected 'ISA', found {text[:3]!r}")
            tail = text[position:].strip()
            interchanges.append(RawInterchange(interchanges[-1].separators, [], Segment(number + 1, (tail,), tail)))
            break
        separators = _separators(text, position, number + 1, path)
        raw = RawInterchange(separators, [])
        while position < len(text):
            end = text.find(separators.segment, position)
            if end < 0:
                body = text[position:].strip()
                position = len(text)
                if body:
                    number += 1
                    raw.unterminated = Segment(number, tuple(body.split(separators.element)), body)
                break
            body = text[position:end].lstrip()
            if not body.strip():
                position = end + 1
                continue
            if body.startswith("ISA") and raw.segments:
                break  # a new interchange before this one's IEA
            position = end + 1
            number += 1
            segment = Segment(number, tuple(body.split(separators.element)), body)
            raw.segments.append(segment)
            if segment.tag == "IEA":
                break
        interchanges.append(raw)
    return interchanges


def check_interchange(raw: RawInterchange, index: int, seen_controls: set[str]) -> Interchange:
    """The interchange with its groups and sets, every envelope defect recorded (nothing raised)."""
    segments = list(raw.segments)
    if raw.unterminated is not None and raw.unterminated.tag == "IEA":
        # Only the final terminator is missing: the trailer is all there, so it is read (and the gap noted).
        segments.append(raw.unterminated)
    first = segments[0] if segments else raw.unterminated
    isa = segments[0] if segments and segments[0].tag == "ISA" else None
    interchange = Interchange(
        standard="x12",
        index=index,
        first_segment=first.number if first is not None else 1,
        control_number=isa[13] if isa else "",
    )
    defects = interchange.defects
    if isa is None:
        text = first.text[:40] if first is not None else ""
        defects.append(Defect(INTERCHANGE, interchange.first_segment, f"data after IEA: {text!r}", "", x12_code="024"))
        return interchange
    interchange.sender_qualifier, interchange.sender = isa[5], isa[6]
    interchange.receiver_qualifier, interchange.receiver = isa[7], isa[8]
    interchange.version, interchange.test = isa[12], isa[15] == "T"
    interchange.prepared = (isa[9], isa[10])
    if not interchange.control_number:
        defects.append(
            Defect(INTERCHANGE, isa.number, "ISA13 interchange control number is empty", "ISA", 13, x12_code="018")
        )
    elif interchange.control_number in seen_controls:
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
    seen_controls.add(interchange.control_number)
    if raw.unterminated is not None and raw.unterminated.tag != "IEA":
        body = raw.unterminated.text
        defects.append(
            Defect(
                INTERCHANGE,
                raw.unterminated.number,
                f"interchange is truncated: last segment {body[:40]!r} has no terminator {raw.separators.segment!r}",
                x12_code="023",
            )
        )
    _walk(segments, interchange)
    return interchange


def _walk(segments: list[Segment], interchange: Interchange) -> None:
    defects = interchange.defects
    group: Segment | None = None
    group_sets = 0
    groups = 0
    current: TransactionSet | None = None
    last = segments[0]
    for segment in segments[1:]:
        last = segment
        tag = segment.tag
        if tag == "IEA":
            if current is not None:
                _close_missing_se(current, segment)
                current = None
            if group is not None:
                defects.append(
                    Defect(GROUP, segment.number, f"group {group[6]} has no GE", "GE", x12_code="3", value=group[6])
                )
                group = None
            if not (segment[1].isdigit() and int(segment[1]) == groups):
                defects.append(
                    Defect(
                        INTERCHANGE,
                        segment.number,
                        f"IEA01 says {segment[1] or 'nothing'} functional groups (GS) but {groups} were sent",
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
            return
        if tag == "GS":
            if current is not None:
                _close_missing_se(current, segment)
                current = None
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
            group, group_sets = segment, 0
            if not interchange.group_version:
                interchange.group_version = segment[8]
            continue
        if tag == "GE":
            if group is None:
                defects.append(Defect(INTERCHANGE, segment.number, "GE without GS", "GE", x12_code="024"))
                continue
            if current is not None:
                _close_missing_se(current, segment)
                current = None
            if not (segment[1].isdigit() and int(segment[1]) == group_sets):
                defects.append(
                    Defect(
                        GROUP,
                        segment.number,
                        f"GE01 says {segment[1] or 'nothing'} transaction sets (ST) but {group_sets} were sent",
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
            interchange.groups.append((group[1], group[6], group[8], group_sets))
            groups += 1
            group = None
            continue
        if tag == "ST":
            if current is not None:
                _close_missing_se(current, segment)
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
            current.segments.append(segment)
            interchange.sets.append(current)
            group_sets += 1
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
            continue
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
            continue
        current.segments.append(segment)
        if tag == "SE":
            _check_set_trailer(current, segment)
            current = None
    if current is not None:
        current.defects.append(
            Defect(
                SET,
                last.number + 1,
                f"interchange is truncated: transaction set {current.control} has no SE",
                "SE",
                x12_code="2",
            )
        )
    if group is not None:
        defects.append(
            Defect(
                GROUP,
                last.number + 1,
                f"interchange is truncated: group {group[6]} has no GE",
                "GE",
                x12_code="3",
                value=group[6],
            )
        )
    if not any(defect.x12_code == "023" for defect in defects):
        defects.append(
            Defect(INTERCHANGE, last.number + 1, "interchange is truncated: no IEA trailer", "IEA", x12_code="023")
        )


def _close_missing_se(current: TransactionSet, segment: Segment) -> None:
    current.defects.append(
        Defect(
            SET, segment.number, f"{segment.tag} before SE closed transaction set {current.control}", "SE", x12_code="2"
        )
    )


def _check_set_trailer(current: TransactionSet, segment: Segment) -> None:
    counted = len(current.segments)
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
    items = sum(1 for item in current.segments if item.tag == "LIN")
    for item in current.segments:
        if item.tag == "CTT" and not (item[1].isdigit() and int(item[1]) == items):
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
