"""EDIFACT interchanges of a delivered file: UNA service characters, segments and the UNB .. UNZ envelope checks.

An optional ``UNA`` service string advice sets the component and element separators, the decimal mark, the
release (escape) character and the segment terminator; without it the defaults ``:+.? '`` apply. Released
characters (``?+``, ``?:``, ``?'``, ``??``) are data, never separators. The character set comes from the first
UNB syntax identifier (UNOA/UNOB ASCII, UNOC Latin-1, UNOD..UNOF other ISO 8859 parts, UNOW/UNOY UTF-8); any
other is refused. Whitespace after a terminator and a UTF-8 byte order mark are tolerated, and a file may hold
several interchanges (each with its own UNA). Every count and reference pair is checked (UNT, UNE, UNZ) and each
problem is recorded as a :class:`Defect` at its segment (counted from the start of the file, UNA included) with
its CONTRL syntax error code (0085), so the first real defect is the one reported.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path

from assets.feeds.errors import FeedError
from assets.feeds.parsers.interchange import GROUP, INTERCHANGE, SET, Defect, Interchange, TransactionSet

SUPPORTED_MESSAGES = ("INVRPT", "SLSRPT")

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
class RawInterchange:
    syntax: Syntax
    segments: list[Segment] = field(default_factory=list)
    unterminated: Segment | None = None


def split_interchanges(data: bytes, path: Path) -> list[RawInterchange]:
    """Every interchange of the file, split into segments with its own UNA service characters.

    Raises FeedError when the file is not EDIFACT (no UNB first), or its character set is unknown or wrong.
    """
    if not data:
        raise FeedError(path, None, "empty file (0 bytes)")
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or b"\x00" in data[:256]:
        raise FeedError(path, None, "unsupported encoding: UTF-16 (EDIFACT character sets are 8-bit, UNOA..UNOY)")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    preview = data.decode("latin-1").lstrip()
    if not preview:
        raise FeedError(path, None, "empty file (no text)")
    syntax, first = _una(preview, path)
    unb = preview[9 if first == 2 else 0 :].lstrip()
    if not unb.startswith("UNB" + syntax.element):
        raise FeedError(path, f"segment {first}", f"not an EDIFACT interchange: expected UNB, found {unb[:3]!r}")
    separators = re.escape(syntax.component + syntax.element + syntax.terminator)
    identifier = re.split(f"[{separators}]", unb[4:], maxsplit=1)[0]
    codec = CHARACTER_SETS.get(identifier)
    if codec is None:
        raise FeedError(
            path,
            f"segment {first}",
            f"unsupported character set '{identifier}' in UNB (expected one of {', '.join(CHARACTER_SETS)})",
        )
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise FeedError(
            path,
            f"segment {first}",
            f"bytes at offset {exc.start} are not valid {identifier} ({codec}) text: {exc.reason}",
        ) from exc
    interchanges: list[RawInterchange] = []
    position, number = 0, 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            break
        syntax, _ = _una(text[position:], path)
        if text.startswith("UNA", position):
            position += 9
            number += 1
        raw = RawInterchange(syntax)
        position, number = _read_interchange(text, position, number, raw)
        interchanges.append(raw)
    return interchanges


def _una(text: str, path: Path) -> tuple[Syntax, int]:
    if not text.startswith("UNA"):
        return Syntax(), 1
    if len(text) < 9:
        raise FeedError(path, "segment 1", "truncated UNA service string advice (needs 6 characters)")
    una = text[3:9]
    return Syntax(component=una[0], element=una[1], decimal=una[2], release=una[3], terminator=una[5]), 2


def _read_interchange(text: str, position: int, number: int, raw: RawInterchange) -> tuple[int, int]:
    """Segments from ``position`` up to and including UNZ (or the end); returns the new position and count."""
    syntax = raw.syntax
    release, terminator = re.escape(syntax.release), re.escape(syntax.terminator)
    pattern = re.compile(f"((?:{release}.|[^{release}{terminator}])*){terminator}", re.DOTALL)
    while position < len(text):
        match = pattern.match(text, position)
        if match is None:
            body = text[position:].strip()
            position = len(text)
            if body:
                number += 1
                raw.unterminated = _segment(number, body, syntax)
            break
        body = match.group(1).lstrip()
        if not body.strip():
            position = match.end()
            continue
        if body.startswith(("UNA", "UNB")) and raw.segments:
            break  # the next interchange, before this one's UNZ
        position = match.end()
        number += 1
        segment = _segment(number, body, syntax)
        raw.segments.append(segment)
        if segment.tag == "UNZ":
            break
    return position, number


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


def check_interchange(raw: RawInterchange, index: int, seen: set[str]) -> Interchange:
    """The interchange with its groups and messages, every envelope defect recorded (nothing raised)."""
    segments = list(raw.segments)
    if raw.unterminated is not None and raw.unterminated.tag == "UNZ":
        segments.append(raw.unterminated)
    first = segments[0] if segments else raw.unterminated
    unb = segments[0] if segments and segments[0].tag == "UNB" else None
    interchange = Interchange(
        "edifact", index, first.number if first is not None else 1, unb.get(5) if unb is not None else ""
    )
    defects = interchange.defects
    if unb is None:
        tag = first.tag if first is not None else ""
        defects.append(
            Defect(INTERCHANGE, interchange.first_segment, f"data after UNZ: {tag!r}", tag, edifact_code="22")
        )
        return interchange
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
    elif reference in seen:
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
    seen.add(reference)
    if raw.unterminated is not None and raw.unterminated.tag != "UNZ":
        body = raw.unterminated.text.strip()
        defects.append(
            Defect(
                INTERCHANGE,
                raw.unterminated.number,
                f"interchange is truncated: last segment {body[:40]!r} has no terminator {raw.syntax.terminator!r}",
                edifact_code="13",
            )
        )
    _walk(segments, interchange)
    return interchange


def _walk(segments: list[Segment], interchange: Interchange) -> None:
    defects = interchange.defects
    reference = interchange.control_number
    groups = 0
    group: Segment | None = None
    group_messages = 0
    current: TransactionSet | None = None
    last = segments[0]
    for segment in segments[1:]:
        last = segment
        tag = segment.tag
        where = segment.number
        if tag == "UNZ":
            if current is not None:
                current.defects.append(
                    Defect(SET, where, f"UNZ before UNT closed message {current.control}", "UNT", edifact_code="13")
                )
                current = None
            if group is not None:
                defects.append(
                    Defect(GROUP, where, f"UNZ before UNE closed group {group.get(5)}", "UNE", edifact_code="13")
                )
            counted, what = (groups, "functional groups (UNG)") if groups else (len(interchange.sets), "messages (UNH)")
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
            return
        if tag == "UNG":
            group, group_messages = segment, 0
            continue
        if tag == "UNE":
            if group is None:
                defects.append(Defect(INTERCHANGE, where, "UNE without an open group", "UNE", edifact_code="15"))
                continue
            declared = segment.get(1)
            if not (declared.isdigit() and int(declared) == group_messages):
                defects.append(
                    Defect(
                        GROUP,
                        where,
                        f"UNE says {declared or 'nothing'} messages (UNH) but {group_messages} were sent",
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
            groups += 1
            group = None
            continue
        if tag == "UNH":
            if current is not None:
                current.defects.append(
                    Defect(SET, where, f"UNH before UNT closed message {current.control}", "UNT", edifact_code="13")
                )
            kind = segment.get(2)
            version = ":".join(segment.elements[2]) if len(segment.elements) > 2 else ""
            current = TransactionSet(kind, segment.get(1), where, version, group.get(5) if group is not None else "")
            current.segments.append(segment)
            interchange.sets.append(current)
            group_messages += 1
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
            continue
        if current is None:
            defects.append(
                Defect(INTERCHANGE, where, f"{tag} segment outside a message (UNH missing)", tag, edifact_code="15")
            )
            continue
        current.segments.append(segment)
        if tag == "UNT":
            counted = len(current.segments)
            declared = segment.get(1)
            if not (declared.isdigit() and int(declared) == counted):
                current.defects.append(
                    Defect(
                        SET,
                        where,
                        f"UNT says {declared or 'nothing'} segments but message {current.control} has {counted} "
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
            current = None
    if current is not None:
        current.defects.append(
            Defect(
                SET,
                last.number + 1,
                f"interchange is truncated: message {current.control} has no UNT",
                "UNT",
                edifact_code="13",
            )
        )
    if group is not None:
        defects.append(
            Defect(
                GROUP,
                last.number + 1,
                "interchange is truncated: functional group has no UNE",
                "UNE",
                edifact_code="13",
            )
        )
    if not any(defect.reason.startswith("interchange is truncated: last") for defect in defects):
        defects.append(
            Defect(INTERCHANGE, last.number + 1, "interchange is truncated: no UNZ trailer", "UNZ", edifact_code="13")
        )
