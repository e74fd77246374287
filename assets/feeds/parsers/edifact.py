"""EDIFACT / EANCOM INVRPT (inventory report) and SLSRPT (sales data report) into canonical stock and sales rows.

An optional ``UNA`` service string advice sets the component and element separators, the decimal mark, the
release (escape) character and the segment terminator; without it the defaults ``:+.? '`` apply. Released
characters (``?+``, ``?:``, ``?'``, ``??``) are data, never separators. The character set comes from the UNB
syntax identifier (UNOA/UNOB ASCII, UNOC Latin-1, UNOD..UNOF other ISO 8859 parts, UNOW/UNOY UTF-8); any
other is refused. The envelope is checked before any row is used: UNT segment counts (UNH to UNT), UNE and UNZ
counts and every reference pair; a mismatch, a truncated interchange or an unsupported message raises
:class:`FeedError` naming the segment number (counted from the start of the file, UNA included).

Within a message ``LOC+162`` names the store for the quantities that follow it, ``LIN`` (with optional ``PIA``)
the item (``:EN`` / ``:SRV`` GTINs are check-digit verified), ``QTY+145`` the stock on hand, ``QTY+152`` / ``153``
the units sold, ``QTY+61`` returns and ``QTY+217`` the units out of inventory, a stock-out (qualifiers are mapped
per partner); ``DTM+90/91`` or ``356/357`` give the period (format 718 gives both ends at once) and ``DTM+137`` the
document date, which dates stock counts when no period is sent. ``CNT+2`` line counts are checked when present.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from assets.feeds.errors import FeedError, check_control_count
from assets.feeds.identity import gln_problem, gtin_problem
from assets.feeds.parsers.measures import MeasureRows
from assets.feeds.parsers.results import ParsedFile
from assets.feeds.partner_config import MEASURES, FileSpec

DEFAULT_ITEM_QUALIFIERS = ("SRV", "EN", "UP", "SA", "IN")
GTIN_QUALIFIERS = frozenset({"SRV", "EN", "UP"})
# EANCOM QTY qualifiers (DE 6063). 217, out of inventory quantity, is what SLSRPT offers for the X12 852's QO. The
# EANCOM INVRPT and SLSRPT code lists name no received quantity (48 belongs to RECADV); a partner that agrees one
# bilaterally maps it with `quantity_codes`.
DEFAULT_QUANTITY_CODES: dict[str, str | None] = {
    "145": "on_hand_qty",
    "152": "units_sold",
    "153": "units_sold",
    "61": "units_returned",
    "217": "units_out_of_stock",
}
SUPPORTED_MESSAGES = ("INVRPT", "SLSRPT")
STORE_QUALIFIER = "162"
GS1_AGENCY = "9"  # code list agency of GLNs in LOC and NAD
PERIOD_START = frozenset({"90", "356"})
PERIOD_END = frozenset({"91", "357"})
DOCUMENT_DATE = "137"
LINE_COUNT_QUALIFIER = "2"  # CNT+2: number of line items in the message

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


def parse_edifact(
    path: Path,
    spec: FileSpec,
    partner_id: str,
    source_file_id: str,
    *,
    default_currency: str | None = None,
) -> ParsedFile:
    """Parse one EDIFACT interchange of INVRPT and/or SLSRPT messages into stock and sales rows and rejects."""
    path = Path(path)
    syntax, segments = read_segments(path.read_bytes(), path)
    control_reference, messages = _check_envelope(segments, path)
    quantity_codes = {
        code: measure
        for code, measure in {**DEFAULT_QUANTITY_CODES, **spec.quantity_codes}.items()
        if measure is not None
    }
    codes_by_measure: dict[str, list[str]] = {}
    for code, measure in quantity_codes.items():
        codes_by_measure.setdefault(measure, []).append(f"QTY+{code}")
    rows = MeasureRows(
        partner_id, source_file_id, codes_by_measure, constants=spec.constants, default_currency=default_currency
    )
    items = 0
    for message in messages:
        if spec.message is not None and message.kind != spec.message:
            raise FeedError(
                path,
                f"segment {message.segments[0].number}",
                f"message {message.kind} where this feed expects {spec.message}",
            )
        items += _read_message(message, spec, syntax, quantity_codes, rows, path)
    if items == 0:
        raise FeedError(path, None, "the interchange holds no line items (LIN)")
    return ParsedFile(rows.results(), control_number=control_reference, position="segment")


# --- segments and envelope ----------------------------------------------------------------------------------


def read_segments(data: bytes, path: Path) -> tuple[Syntax, list[Segment]]:
    """Split an interchange into segments, honouring UNA separators, the release character and the charset."""
    if not data:
        raise FeedError(path, None, "empty file (0 bytes)")
    if data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) or b"\x00" in data[:256]:
        raise FeedError(path, None, "unsupported encoding: UTF-16 (EDIFACT character sets are 8-bit, UNOA..UNOY)")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    preview = data.decode("latin-1").lstrip()
    if not preview:
        raise FeedError(path, None, "empty file (no text)")
    syntax = Syntax()
    first = 1
    if preview.startswith("UNA"):
        if len(preview) < 9:
            raise FeedError(path, "segment 1", "truncated UNA service string advice (needs 6 characters)")
        una = preview[3:9]
        syntax = Syntax(component=una[0], element=una[1], decimal=una[2], release=una[3], terminator=una[5])
        first = 2
    unb = preview[9 if first == 2 else 0 :].lstrip("\r\n")
    if not unb.startswith("UNB" + syntax.element):
        raise FeedError(path, f"segment {first}", f"not an EDIFACT interchange: expected UNB, found {unb[:3]!r}")
    identifier = re.split(f"[{re.escape(syntax.component + syntax.element + syntax.terminator)}]", unb[4:], maxsplit=1)[
        0
    ]
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
    text = text.lstrip()
    if first == 2:
        text = text[9:]
    return syntax, _split_segments(text, syntax, first, path)


def _split_segments(text: str, syntax: Syntax, first: int, path: Path) -> list[Segment]:
    release, terminator = re.escape(syntax.release), re.escape(syntax.terminator)
    pattern = re.compile(f"((?:{release}.|[^{release}{terminator}])*){terminator}", re.DOTALL)
    segments: list[Segment] = []
    end = 0
    for match in pattern.finditer(text):
        if match.start() != end:
            break
        end = match.end()
        raw = match.group(1).lstrip("\r\n")
        if not raw.strip():
            continue
        number = first + len(segments)
        elements = tuple(
            tuple(
                _unescape(component, syntax.release) for component in _split(element, syntax.component, syntax.release)
            )
            for element in _split(raw, syntax.element, syntax.release)
        )
        segments.append(Segment(number, elements, raw))
    tail = text[end:]
    if tail.strip():
        raise FeedError(
            path,
            f"segment {first + len(segments)}",
            f"interchange is truncated: last segment {tail.strip()[:40]!r} has no terminator {syntax.terminator!r}",
        )
    if not segments:
        raise FeedError(path, None, "empty file (no segments)")
    return segments


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


@dataclass
class _Message:
    kind: str  # INVRPT | SLSRPT
    reference: str  # UNH 0062
    segments: list[Segment] = field(default_factory=list)  # UNH .. UNT


def _check_envelope(segments: list[Segment], path: Path) -> tuple[str, list[_Message]]:
    """Walk UNB/[UNG]/UNH .. UNT/[UNE]/UNZ, checking counts and references; returns the control reference."""
    unb = segments[0]
    reference = unb.get(5)
    if not reference:
        raise FeedError(path, f"segment {unb.number}", "UNB interchange control reference (0020) is empty")
    messages: list[_Message] = []
    groups = 0
    group: Segment | None = None
    group_messages = 0
    current: _Message | None = None
    last = unb
    for segment in segments[1:]:
        last = segment
        tag = segment.tag
        where = f"segment {segment.number}"
        if tag == "UNZ":
            if current is not None:
                raise FeedError(path, where, f"UNZ before UNT closed message {current.reference}")
            if group is not None:
                raise FeedError(path, where, f"UNZ before UNE closed group {group.get(5)}")
            counted, what = (groups, "functional groups (UNG)") if groups else (len(messages), "messages (UNH)")
            check_control_count(path, segment.number, "UNZ", segment.get(1), counted, what)
            if segment.get(2) != reference:
                raise FeedError(path, where, f"UNZ reference '{segment.get(2)}' differs from UNB '{reference}'")
            if segment is not segments[-1]:
                following = segments[segments.index(segment) + 1]
                raise FeedError(path, f"segment {following.number}", "data after UNZ: send one interchange per file")
            return reference, messages
        if tag == "UNG":
            if group is not None or current is not None:
                raise FeedError(path, where, "UNG inside an open group or message")
            group, group_messages = segment, 0
            continue
        if tag == "UNE":
            if group is None or current is not None:
                raise FeedError(path, where, "UNE without an open group, or before UNT")
            check_control_count(path, segment.number, "UNE", segment.get(1), group_messages, "messages (UNH)")
            if segment.get(2) != group.get(5):
                raise FeedError(path, where, f"UNE reference '{segment.get(2)}' differs from UNG '{group.get(5)}'")
            groups += 1
            group = None
            continue
        if tag == "UNH":
            if current is not None:
                raise FeedError(path, where, f"UNH before UNT closed message {current.reference}")
            kind = segment.get(2)
            if kind not in SUPPORTED_MESSAGES:
                raise FeedError(
                    path,
                    where,
                    f"message type {kind or '?'} is not supported (expected {' or '.join(SUPPORTED_MESSAGES)})",
                )
            current = _Message(kind, segment.get(1), [segment])
            continue
        if current is None:
            raise FeedError(path, where, f"{tag} segment outside a message (UNH missing)")
        current.segments.append(segment)
        if tag == "UNT":
            counted = len(current.segments)
            check_control_count(
                path,
                segment.number,
                "UNT",
                segment.get(1),
                counted,
                "segments",
                f"message {current.reference} has {counted} (UNH to UNT)",
            )
            if segment.get(2) != current.reference:
                raise FeedError(path, where, f"UNT reference '{segment.get(2)}' differs from UNH '{current.reference}'")
            messages.append(current)
            group_messages += 1
            current = None
    if current is not None:
        reason = f"interchange is truncated: message {current.reference} has no UNT"
    elif group is not None:
        reason = "interchange is truncated: functional group has no UNE"
    else:
        reason = "interchange is truncated: no UNZ trailer"
    raise FeedError(path, f"segment {last.number + 1}", reason)


# --- messages -----------------------------------------------------------------------------------------------


def _read_message(
    message: _Message,
    spec: FileSpec,
    syntax: Syntax,
    quantity_codes: dict[str, str],
    rows: MeasureRows,
    path: Path,
) -> int:
    """Add the message's quantities to ``rows``; returns its number of LIN segments."""
    qualifiers = spec.item_qualifiers or DEFAULT_ITEM_QUALIFIERS
    document_date: date | None = None
    start: date | None = None
    end: date | None = None
    store: str | None = None
    store_problems: list[str] = []
    item_ids: dict[str, str] = {}
    lin: Segment | None = None
    line_items = 0
    for segment in message.segments[1:-1]:
        tag = segment.tag
        if tag == "DTM":
            qualifier = segment.get(1, 0)
            value, form = segment.get(1, 1), segment.get(1, 2) or "102"
            if form == "718":
                start, end = _range(value, segment, path)
            elif qualifier == DOCUMENT_DATE:
                document_date = _date(value, form, segment, path)
            elif qualifier in PERIOD_START:
                start = _date(value, form, segment, path)
            elif qualifier in PERIOD_END:
                end = _date(value, form, segment, path)
        elif tag == "LOC" and segment.get(1) == STORE_QUALIFIER:
            store = segment.get(2) or None
            store_problems = []
            if store and segment.get(2, 2) == GS1_AGENCY:
                problem = gln_problem(store)
                store_problems = [f"store {problem}"] if problem else []
        elif tag == "LIN":
            line_items += 1
            lin = segment
            item_ids = {}
            if segment.get(3):
                item_ids[segment.get(3, 1)] = segment.get(3)
        elif tag == "PIA" and lin is not None:
            for element in range(2, len(segment.elements)):
                if segment.get(element) and segment.get(element, 1):
                    item_ids.setdefault(segment.get(element, 1), segment.get(element))
        elif tag == "QTY" and lin is not None:
            measure = quantity_codes.get(segment.get(1, 0))
            if measure is None:
                continue
            period = _period(message, measure, document_date, start, end, path)
            product_ref, item_problems = _item(item_ids, qualifiers, spec, lin)
            quantity = segment.get(1, 1)
            if syntax.decimal != ".":
                quantity = quantity.replace(syntax.decimal, ".")
            rows.add(
                measure,
                f"QTY+{segment.get(1, 0)}",
                quantity,
                location_id=store,
                product_ref=product_ref,
                period=period,
                segment=segment.number,
                raw=[lin.text, segment.text],
                problems=[*item_problems, *store_problems],
                uom=segment.get(1, 2) or None,
            )
        elif tag == "CNT" and segment.get(1, 0) == LINE_COUNT_QUALIFIER:
            declared = segment.get(1, 1)
            if not declared.isdigit() or int(declared) != line_items:
                raise FeedError(
                    path,
                    f"segment {segment.number}",
                    f"CNT+2 says {declared or 'nothing'} line items but message {message.reference} has "
                    f"{line_items} LIN segments",
                )
    return line_items


def _period(
    message: _Message, measure: str, document_date: date | None, start: date | None, end: date | None, path: Path
) -> tuple[date, date]:
    if MEASURES[measure] == "stock":
        day = end or start or document_date
        if day is None:
            raise FeedError(
                path,
                f"segment {message.segments[0].number}",
                f"{message.kind} message {message.reference} has no inventory date (DTM+91/357 or DTM+137)",
            )
        return day, day
    if start is None and end is None:
        raise FeedError(
            path,
            f"segment {message.segments[0].number}",
            f"{message.kind} message {message.reference} has no sales period (DTM+90/91 or DTM+356/357)",
        )
    first, last = start or end, end or start
    if last < first:
        raise FeedError(path, f"segment {message.segments[0].number}", f"sales period ends {last} before {first}")
    return first, last


def _item(
    item_ids: dict[str, str], qualifiers: tuple[str, ...], spec: FileSpec, lin: Segment
) -> tuple[str | None, list[str]]:
    for qualifier in qualifiers:
        value = item_ids.get(qualifier)
        if value is None:
            continue
        if qualifier in GTIN_QUALIFIERS and spec.gtin_mode != "off":
            problem = gtin_problem(value)
            if problem is not None:
                return value, [f"{problem} (LIN at segment {lin.number})"]
            if spec.gtin_mode == "normalise":
                value = value.zfill(14)
        return value, []
    found = ", ".join(qualifier or "unqualified" for qualifier in item_ids) or "none"
    return None, [f"LIN at segment {lin.number} has no item id qualified {'/'.join(qualifiers)} (found {found})"]


_DATE_FORMATS = {"102": "%Y%m%d", "203": "%Y%m%d%H%M", "204": "%Y%m%d%H%M%S"}


def _date(value: str, form: str, segment: Segment, path: Path) -> date:
    pattern = _DATE_FORMATS.get(form)
    if pattern is None:
        raise FeedError(path, f"segment {segment.number}", f"DTM format {form} is not supported (use 102, 203 or 718)")
    try:
        return datetime.strptime(value, pattern).date()
    except ValueError as exc:
        raise FeedError(
            path, f"segment {segment.number}", f"DTM value '{value}' is not a date in format {form}"
        ) from exc


def _range(value: str, segment: Segment, path: Path) -> tuple[date, date]:
    first, _, last = value.partition("-")
    start, end = _date(first, "102", segment, path), _date(last, "102", segment, path)
    if end < start:
        raise FeedError(path, f"segment {segment.number}", f"DTM period ends {end} before {start}")
    return start, end
