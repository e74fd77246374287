"""ANSI X12 852 Product Activity Data and 846 Inventory Inquiry/Advice into canonical stock and sales rows.

Separators are read from the ISA header, never assumed: the element separator is the 4th character, the
component separator is ISA16 and the segment terminator the character right after it; CR/LF after a terminator
is tolerated. One interchange may hold several GS groups and ST sets. The envelope is checked before any row is
used: SE01 segment counts, SE02/GE02/IEA02 control numbers, CTT01 line counts, GE01 set counts and IEA01 group
counts; a mismatch, a truncated interchange or an unsupported set raises :class:`FeedError` naming the segment
number (counted from ISA = 1) and the reason, and the loader quarantines the file.

852: ``XQ`` gives the reporting period; each ``LIN`` names an item (the first qualifier of the spec's
``item_qualifiers`` found: UP = UPC-A, EN = EAN-13, UK = GTIN-14, VN = vendor item, IN = buyer item, ...);
each ``ZA`` gives an activity code (QA/OH on hand, QS/TS sold, QU returned, QP on order, QI in transit, QR
received, QO out of stock), mapped to a canonical measure per partner, and the ``SDQ`` segments after it
spread its quantity over up to ten ``store, quantity`` pairs (SDQ01 unit, SDQ02 store id qualifier). A ``ZA``
with a quantity and no ``SDQ`` reports for the store named in the heading ``N1``. Stock rows are dated at the end
of the period, sales rows carry the period.

846: ``BIA04`` (or a ``DTM*007``/``DTM*405``) dates the counts; each ``LIN`` loop reports ``QTY`` segments
(``QTY*33`` available for sale -> on hand, ``QTY*63`` on order, others as mapped) for the store of the heading
or loop ``N1`` (or spread by ``SDQ``).

Items qualified as GTINs (UP, EN, UK) have their check digit verified; a bad one rejects the row with the reason.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from assets.feeds.errors import FeedError, check_control_count
from assets.feeds.identity import gln_problem, gtin_problem
from assets.feeds.parsers.measures import MeasureRows
from assets.feeds.parsers.results import ParsedFile
from assets.feeds.partner_config import FileSpec

DEFAULT_ITEM_QUALIFIERS = ("UP", "EN", "UK", "VN", "IN", "SK")
GTIN_QUALIFIERS = frozenset({"UP", "EN", "UK"})
# 852 ZA01 activity codes. QR, quantity received: units that reached the location in the period. QO, quantity out
# of stock: units the location could not supply for want of stock in the period (store orders a warehouse could
# not fill, or a store's shelf out of stock), so any quantity means the item ran out there during the period.
DEFAULT_ACTIVITY_CODES: dict[str, str | None] = {
    "QA": "on_hand_qty",
    "OH": "on_hand_qty",
    "QS": "units_sold",
    "TS": "units_sold",
    "QP": "on_order_qty",
    "QI": "in_transit_qty",
    "QU": "units_returned",
    "QR": "units_received",
    "QO": "units_out_of_stock",
}
# 846 QTY01 quantity qualifiers: 33 available for sale (stock quantity), 63 on order.
DEFAULT_QUANTITY_CODES: dict[str, str | None] = {"33": "on_hand_qty", "63": "on_order_qty"}
STORE_ENTITIES = frozenset({"ST", "RL", "SN", "WH"})  # N101 codes naming a store or warehouse
GLN_QUALIFIERS = frozenset({"UL"})  # N103 / SDQ02 qualifiers whose ids are GS1 GLNs
INVENTORY_DATE_QUALIFIERS = frozenset({"007", "405"})
SUPPORTED_SETS = ("852", "846")
ISA_ELEMENTS = 16
MAX_SDQ_PAIRS = 10


@dataclass(frozen=True)
class Separators:
    element: str
    component: str
    segment: str


@dataclass(frozen=True)
class Segment:
    """One segment; ``number`` counts from ISA = 1 through the whole interchange."""

    number: int
    elements: tuple[str, ...]  # elements[0] is the tag
    text: str

    @property
    def tag(self) -> str:
        return self.elements[0]

    def __getitem__(self, index: int) -> str:
        """Element ``index`` (1-based, as X12 numbers them: ``seg[1]`` is ST01), '' when absent."""
        return self.elements[index].strip() if index < len(self.elements) else ""


def parse_x12(
    path: Path,
    spec: FileSpec,
    partner_id: str,
    source_file_id: str,
    *,
    default_currency: str | None = None,
) -> ParsedFile:
    """Parse one X12 interchange of 852 and/or 846 sets into stock and sales rows plus row rejects."""
    path = Path(path)
    separators, segments = read_segments(path.read_bytes(), path)
    interchange = _check_envelope(segments, path)
    activity_codes = _codes(DEFAULT_ACTIVITY_CODES, spec.activity_codes)
    quantity_codes = _codes(DEFAULT_QUANTITY_CODES, spec.quantity_codes)
    codes_by_measure: dict[str, list[str]] = {}
    for code, measure in [*activity_codes.items(), *quantity_codes.items()]:
        codes_by_measure.setdefault(measure, []).append(code)
    rows = MeasureRows(
        partner_id, source_file_id, codes_by_measure, constants=spec.constants, default_currency=default_currency
    )
    reader = _SetReader(spec, separators, rows, activity_codes, quantity_codes, path)
    for transaction in interchange.sets:
        if spec.message is not None and transaction.kind != spec.message:
            raise FeedError(
                path,
                f"segment {transaction.segments[0].number}",
                f"transaction set {transaction.kind} where this feed expects {spec.message}",
            )
        reader.read(transaction)
    if reader.items == 0:
        raise FeedError(path, None, "the interchange holds no line items (LIN)")
    return ParsedFile(rows.results(), control_number=interchange.control_number, position="segment")


# --- segments and envelope ----------------------------------------------------------------------------------


def read_segments(data: bytes, path: Path) -> tuple[Separators, list[Segment]]:
    """Split an interchange into segments with the separators its ISA header declares."""
    text = _decode(data, path)
    if not text.startswith("ISA"):
        raise FeedError(path, "segment 1", f"not an X12 interchange: expected 'ISA', found {text[:3]!r}")
    element = text[3]
    position = 3
    for _ in range(ISA_ELEMENTS - 1):
        position = text.find(element, position + 1)
        if position < 0:
            raise FeedError(path, "segment 1", f"truncated ISA header: fewer than {ISA_ELEMENTS} elements")
    if position + 2 >= len(text):
        raise FeedError(path, "segment 1", "truncated ISA header: no ISA16 and segment terminator")
    component, terminator = text[position + 1], text[position + 2]
    if terminator.isalnum() or terminator in (element, component) or terminator == " ":
        raise FeedError(
            path, "segment 1", f"cannot tell the segment terminator: {terminator!r} follows ISA16 {component!r}"
        )
    separators = Separators(element, component, terminator)
    pieces = text.split(terminator)
    tail = pieces.pop()
    segments: list[Segment] = []
    for piece in pieces:
        body = piece.strip("\r\n")
        if not body.strip():
            continue
        segments.append(Segment(len(segments) + 1, tuple(body.split(element)), body))
    if tail.strip():
        # Whatever follows the last terminator is a segment cut off in the middle.
        body = tail.strip("\r\n")
        raise FeedError(
            path,
            f"segment {len(segments) + 1}",
            f"interchange is truncated: last segment {body[:40]!r} has no terminator {terminator!r}",
        )
    return separators, segments


def _decode(data: bytes, path: Path) -> str:
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
    text = text.lstrip()
    if not text:
        raise FeedError(path, None, "empty file (no text)")
    return text


@dataclass
class _TransactionSet:
    kind: str  # ST01
    control: str  # ST02
    segments: list[Segment] = field(default_factory=list)  # ST .. SE


@dataclass
class _Interchange:
    control_number: str
    sets: list[_TransactionSet]


def _check_envelope(segments: list[Segment], path: Path) -> _Interchange:
    """Walk ISA/GS/ST .. SE/GE/IEA, checking every count and control number; returns the transaction sets."""
    isa = segments[0]
    control_number = isa[13]
    if not control_number:
        raise FeedError(path, "segment 1", "ISA13 interchange control number is empty")
    sets: list[_TransactionSet] = []
    groups = 0
    group: Segment | None = None
    group_sets = 0
    current: _TransactionSet | None = None
    last = isa
    for segment in segments[1:]:
        last = segment
        tag = segment.tag
        where = f"segment {segment.number}"
        if tag == "ISA":
            raise FeedError(path, where, "a second ISA inside the interchange (IEA missing before it)")
        if tag == "IEA":
            if current is not None or group is not None:
                open_part = f"transaction set {current.control}" if current is not None else f"group {group[6]}"
                raise FeedError(path, where, f"IEA before the end of {open_part}")
            check_control_count(path, segment.number, "IEA01", segment[1], groups, "functional groups (GS)")
            if segment[2] != control_number:
                raise FeedError(path, where, f"IEA02 '{segment[2]}' differs from ISA13 '{control_number}'")
            if segment is not segments[-1]:
                following = segments[segments.index(segment) + 1]
                raise FeedError(path, f"segment {following.number}", "data after IEA: send one interchange per file")
            return _Interchange(control_number, sets)
        if tag == "GS":
            if group is not None:
                raise FeedError(path, where, f"GS before GE closed group {group[6]}")
            group, group_sets = segment, 0
            continue
        if tag == "GE":
            if group is None:
                raise FeedError(path, where, "GE without GS")
            if current is not None:
                raise FeedError(path, where, f"GE before SE closed transaction set {current.control}")
            check_control_count(path, segment.number, "GE01", segment[1], group_sets, "transaction sets (ST)")
            if segment[2] != group[6]:
                raise FeedError(path, where, f"GE02 '{segment[2]}' differs from GS06 '{group[6]}'")
            groups += 1
            group = None
            continue
        if tag == "ST":
            if group is None:
                raise FeedError(path, where, "ST outside a functional group (GS missing)")
            if current is not None:
                raise FeedError(path, where, f"ST before SE closed transaction set {current.control}")
            if segment[1] not in SUPPORTED_SETS:
                raise FeedError(
                    path,
                    where,
                    f"transaction set {segment[1]} is not supported (expected {' or '.join(SUPPORTED_SETS)})",
                )
            current = _TransactionSet(segment[1], segment[2], [segment])
            continue
        if current is None:
            raise FeedError(path, where, f"{tag} segment outside a transaction set")
        current.segments.append(segment)
        if tag == "SE":
            counted = len(current.segments)
            check_control_count(
                path,
                segment.number,
                "SE01",
                segment[1],
                counted,
                "segments",
                f"transaction set {current.control} has {counted} (ST to SE)",
            )
            if segment[2] != current.control:
                raise FeedError(path, where, f"SE02 '{segment[2]}' differs from ST02 '{current.control}'")
            _check_line_count(current, path)
            sets.append(current)
            group_sets += 1
            current = None
    if current is not None:
        reason = f"interchange is truncated: transaction set {current.control} has no SE"
    elif group is not None:
        reason = f"interchange is truncated: group {group[6]} has no GE"
    else:
        reason = "interchange is truncated: no IEA trailer"
    raise FeedError(path, f"segment {last.number + 1}", reason)


def _check_line_count(transaction: _TransactionSet, path: Path) -> None:
    items = sum(1 for segment in transaction.segments if segment.tag == "LIN")
    for segment in transaction.segments:
        if segment.tag == "CTT":
            check_control_count(
                path,
                segment.number,
                "CTT01",
                segment[1],
                items,
                "line items",
                f"transaction set {transaction.control} has {items} LIN segments",
            )


# --- transaction sets ---------------------------------------------------------------------------------------


def _codes(defaults: dict[str, str | None], overrides: dict[str, str | None]) -> dict[str, str]:
    merged = {**defaults, **overrides}
    return {code: measure for code, measure in merged.items() if measure is not None}


@dataclass
class _Pending:
    """A ZA or QTY whose quantity waits for SDQ segments; without them it reports for the loop's store."""

    measure: str
    code: str
    segment: Segment
    quantity: str
    uom: str | None
    spread: bool = False


class _SetReader:
    def __init__(
        self,
        spec: FileSpec,
        separators: Separators,
        rows: MeasureRows,
        activity_codes: dict[str, str],
        quantity_codes: dict[str, str],
        path: Path,
    ) -> None:
        self.spec = spec
        self.separators = separators
        self.rows = rows
        self.activity_codes = activity_codes
        self.quantity_codes = quantity_codes
        self.path = path
        self.qualifiers = spec.item_qualifiers or DEFAULT_ITEM_QUALIFIERS
        self.items = 0

    def read(self, transaction: _TransactionSet) -> None:
        kind = transaction.kind
        period: tuple[date, date] | None = None
        heading_store: str | None = None
        heading_problems: list[str] = []
        loop_store: str | None = None
        loop_problems: list[str] = []
        item: tuple[str | None, list[str], Segment] | None = None
        item_date: date | None = None
        pending: _Pending | None = None

        def flush() -> None:
            nonlocal pending
            if pending is not None and not pending.spread and pending.quantity and item is not None:
                store = loop_store or heading_store
                self._add(pending, store, loop_problems or heading_problems, item, item_period(), [pending.segment])
            pending = None

        def item_period() -> tuple[date, date]:
            if item_date is not None:
                return item_date, item_date
            if period is None:
                raise FeedError(self.path, f"segment {transaction.segments[0].number}", self._no_period(kind))
            return period

        for segment in transaction.segments[1:-1]:
            tag = segment.tag
            if tag != "SDQ":
                # SDQ segments follow their ZA or QTY directly; anything else ends that measure.
                flush()
            if tag == "XQ" and kind == "852":
                start = _date(segment[2], segment, "XQ02", self.path)
                end = _date(segment[3], segment, "XQ03", self.path) if segment[3] else start
                if end < start:
                    raise FeedError(self.path, f"segment {segment.number}", f"XQ period ends {end} before {start}")
                period = (start, end)
            elif tag == "BIA" and kind == "846" and segment[4]:
                day = _date(segment[4], segment, "BIA04", self.path)
                period = (day, day)
            elif tag == "DTM" and segment[1] in INVENTORY_DATE_QUALIFIERS and kind == "846":
                day = _date(segment[2], segment, "DTM02", self.path)
                if item is None:
                    period = (day, day)
                else:
                    item_date = day
            elif tag == "N1" and segment[1] in STORE_ENTITIES and segment[4]:
                store, problems = self._store(segment[3], segment[4])
                if item is None:
                    heading_store, heading_problems = store, problems
                else:
                    loop_store, loop_problems = store, problems
            elif tag == "LIN":
                self.items += 1
                item = (*self._item(segment), segment)
                loop_store, loop_problems, item_date = None, [], None
            elif tag == "ZA" and kind == "852":
                pending = self._pending(segment, self.activity_codes, item)
            elif tag == "QTY":
                pending = self._pending(segment, self.quantity_codes, item)
            elif tag == "SDQ" and pending is not None and item is not None:
                pending.spread = True
                self._spread(segment, pending, item, item_period())
        flush()

    @staticmethod
    def _no_period(kind: str) -> str:
        if kind == "852":
            return "852 transaction set has no XQ reporting period"
        return "846 transaction set has no inventory date (BIA04 or DTM*007/405)"

    def _pending(
        self, segment: Segment, codes: dict[str, str], item: tuple[str | None, list[str], Segment] | None
    ) -> _Pending | None:
        measure = codes.get(segment[1])
        if measure is None or item is None:
            return None
        uom = segment[3].split(self.separators.component)[0] or None
        return _Pending(measure, segment[1], segment, segment[2], uom)

    def _spread(
        self,
        segment: Segment,
        pending: _Pending,
        item: tuple[str | None, list[str], Segment],
        period: tuple[date, date],
    ) -> None:
        qualifier = segment[2]
        uom = segment[1] or pending.uom
        values = list(segment.elements[3:])
        while values and not values[-1].strip():
            values.pop()
        if len(values) > 2 * MAX_SDQ_PAIRS:
            raise FeedError(
                self.path,
                f"segment {segment.number}",
                f"SDQ holds {len(values)} store and quantity elements, more than {MAX_SDQ_PAIRS} pairs",
            )
        for index in range(0, len(values), 2):
            store_text = values[index].strip()
            quantity = values[index + 1].strip() if index + 1 < len(values) else ""
            if not store_text and not quantity:
                continue
            store, problems = self._store(qualifier, store_text)
            if not quantity:
                problems = [*problems, f"SDQ gives store '{store_text}' no quantity"]
            spread = _Pending(pending.measure, pending.code, segment, quantity or "0", uom)
            self._add(spread, store, problems, item, period, [pending.segment, segment])

    def _add(
        self,
        pending: _Pending,
        store: str | None,
        store_problems: list[str],
        item: tuple[str | None, list[str], Segment],
        period: tuple[date, date],
        segments: list[Segment],
    ) -> None:
        product_ref, item_problems, lin = item
        self.rows.add(
            pending.measure,
            pending.code,
            pending.quantity,
            location_id=store,
            product_ref=product_ref,
            period=period,
            segment=pending.segment.number,
            raw=[lin.text, *(segment.text for segment in segments)],
            problems=[*item_problems, *store_problems],
            uom=pending.uom,
        )

    def _item(self, segment: Segment) -> tuple[str | None, list[str]]:
        """The LIN's product ref by the preferred qualifier, checked as a GTIN where it is one."""
        pairs = {}
        for index in range(2, len(segment.elements) - 1, 2):
            qualifier, value = segment[index], segment[index + 1]
            if qualifier and value and qualifier not in pairs:
                pairs[qualifier] = value
        for qualifier in self.qualifiers:
            value = pairs.get(qualifier)
            if value is None:
                continue
            if qualifier in GTIN_QUALIFIERS and self.spec.gtin_mode != "off":
                problem = gtin_problem(value)
                if problem is not None:
                    return value, [f"{problem} (LIN {qualifier} at segment {segment.number})"]
                if self.spec.gtin_mode == "normalise":
                    value = value.zfill(14)
            return value, []
        found = ", ".join(pairs) or "none"
        return None, [
            f"LIN at segment {segment.number} has no item id qualified {'/'.join(self.qualifiers)} (found {found})"
        ]

    @staticmethod
    def _store(qualifier: str, store: str) -> tuple[str | None, list[str]]:
        if not store:
            return None, []
        if qualifier in GLN_QUALIFIERS:
            problem = gln_problem(store)
            if problem is not None:
                return store, [f"store {problem}"]
        return store, []


_DATE_FORMATS = {8: "%Y%m%d", 6: "%y%m%d"}


def _date(text: str, segment: Segment, element: str, path: Path) -> date:
    form = _DATE_FORMATS.get(len(text))
    if form is not None and text.isdigit():
        try:
            return datetime.strptime(text, form).date()
        except ValueError:
            pass
    raise FeedError(path, f"segment {segment.number}", f"{element} '{text}' is not a date (CCYYMMDD)")
