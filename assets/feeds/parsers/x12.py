"""ANSI X12 852 Product Activity Data and 846 Inventory Inquiry/Advice into canonical stock and sales rows.

The envelope (``x12_envelope.py``) is read first: separators from each ISA, whitespace after terminators and
byte order marks tolerated, several interchanges per file, every control count checked. An interchange or
group with a structural defect is refused whole, a transaction set with one is left out, and the rest loads
(``interchange_outcomes.py`` records each interchange's outcome); only a file in which nothing can load is
refused (:class:`EnvelopeError`, which carries every interchange for its acknowledgment), with the first real
defect by segment number, then the others. A test interchange (ISA15 = T) is loaded like any other, and noted.

Sets are read by the standard's loops, not by a fixed sequence:

- 852: ``XQ`` gives the reporting period (six- or eight-digit dates); ``N1`` names the reporting location (RL,
  ST, SN, WH) for the ``LIN`` loops that follow it, wherever it stands. In each ``LIN`` loop, every ``ZA`` opens
  an activity loop (QA/OH on hand, QS/TS sold, QU returned, QP on order, QI in transit, QR received, QO out of
  stock; mapped per partner) whose quantity is ZA02 for the location of the ``N1``, or spread by the ``SDQ``
  segments of the loop (up to ten ``store, quantity`` pairs each) wherever they stand among its ``QTY`` and
  ``CTP``; a ZA02 given with SDQs is their total and is checked against them. ``QTY`` segments are quantities
  too: mapped through ``quantity_codes`` (none by default in an 852, where ZA carries the activity) or unused.
- 846: ``BIA04`` or ``DTM*007``/``405`` dates the counts; each ``LIN`` loop reports ``QTY`` loops (``QTY*17``
  quantity on hand, ``QTY*33`` available for sale where no 17 is sent, ``QTY*63`` on order; unit from QTY03 or
  ``UIT``; ``SDQ`` spreads one over stores) for the store of the heading or loop ``N1``.

Items: the first id found in the partner's ``item_qualifiers`` order (by default UP, EN, UK and UI, the GTIN
kinds, normalised to GTIN-14 with the check digit verified, then VN, VP, VC, MG, BP, IN, SK, passed on for the
partner item cross-reference). A LIN with none is rejected with the ids it has, never merged with another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path

from assets.feeds.identity import gln_problem, gtin_problem, upc_from_consumer_package_code
from assets.feeds.parsers.interchange import (
    ELEMENT,
    SET,
    Defect,
    EnvelopeError,
    Interchange,
    QuantityAccount,
    TransactionSet,
    parse_number,
    refusal,
)
from assets.feeds.parsers.interchange_outcomes import interchange_outcomes, is_usable, read_set
from assets.feeds.parsers.measures import MeasureRows
from assets.feeds.parsers.results import ParsedFile
from assets.feeds.parsers.x12_envelope import (
    SUPPORTED_SETS,
    Segment,
    Separators,
    element_defects,
    scan_x12,
)
from assets.feeds.partner_config import FileSpec

DEFAULT_ITEM_QUALIFIERS = ("UP", "EN", "UK", "UI", "VN", "VP", "VC", "MG", "BP", "IN", "SK")
GTIN_QUALIFIERS = frozenset({"UP", "EN", "UK", "UI"})
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
# 846 QTY01 quantity qualifiers (X12 673): 17 quantity on hand, 33 available for sale (the on-hand figure when no 17
# is sent: 17 is listed first, so it wins), 63 on order. An 852 reports its activity in ZA loops, so its QTY
# segments (ZA sub-quantities, a LIN-level QTY*17 beside ZA*QA) map to nothing unless the partner says so.
DEFAULT_QUANTITY_CODES: dict[str, dict[str, str | None]] = {
    "846": {"17": "on_hand_qty", "33": "on_hand_qty", "63": "on_order_qty"},
    "852": {},
}
STORE_ENTITIES = frozenset({"ST", "RL", "SN", "WH"})  # N101 codes naming a store, reporting location or warehouse
GLN_QUALIFIERS = frozenset({"UL"})  # N103 / SDQ02 qualifiers whose ids are GS1 GLNs
INVENTORY_DATE_QUALIFIERS = frozenset({"007", "405"})
MAX_SDQ_PAIRS = 10


def parse_x12(
    path: Path,
    spec: FileSpec,
    partner_id: str,
    source_file_id: str,
    *,
    default_currency: str | None = None,
) -> ParsedFile:
    """Parse the X12 interchanges of one file (852 and/or 846 sets) into stock and sales rows plus rejects."""
    path = Path(path)
    account = QuantityAccount(partner_id=partner_id)
    # Read segment by segment: envelopes first, then each set as it ends (memory bounded by one set).
    scanned = scan_x12(path)
    interchanges: list[Interchange] = scanned.interchanges
    readers: dict[str, _SetReader] = {}
    rows = _rows(spec, partner_id, source_file_id, default_currency, account)
    for interchange, separators, transaction in scanned.sets():
        if interchange.test and transaction is interchange.sets[0]:
            account.notes.append(f"interchange {interchange.control_number} is marked as a test (ISA15 = T)")
        if spec.message is not None and transaction.kind != spec.message and transaction.kind in SUPPORTED_SETS:
            transaction.defects.append(
                Defect(
                    SET,
                    transaction.first_segment,
                    f"transaction set {transaction.kind} where this feed expects {spec.message}",
                    "ST",
                    1,
                    x12_code="1",
                )
            )
        read = partial(_read, readers, spec, separators, rows, transaction)
        read_set(rows, interchange, transaction, read, partial(_quantities, transaction))
    # Each interchange, and each set in a sound one, loads or is refused on its own (interchange_outcomes.py); the
    # file is refused only when nothing in it can load, naming the first real defect (and the others).
    if not any(is_usable(interchange) for interchange in interchanges) and any(
        map(Interchange.first_fatal, interchanges)
    ):
        raise refusal(path, interchanges)
    if not any(reader.items for reader in readers.values()):
        raise EnvelopeError(path, None, "the interchange holds no line items (LIN)", interchanges)
    results = rows.results()
    return ParsedFile(
        results,
        control_number=interchanges[0].control_number,
        position="segment",
        account=account,
        interchanges=interchanges,
        outcomes=interchange_outcomes(interchanges, rows.tallies),
    )


def _rows(
    spec: FileSpec, partner_id: str, source_file_id: str, default_currency: str | None, account: QuantityAccount
) -> MeasureRows:
    codes_by_measure: dict[str, list[str]] = {}
    for kind in SUPPORTED_SETS:
        for code, measure in _codes(DEFAULT_QUANTITY_CODES[kind], spec.quantity_codes).items():
            codes_by_measure.setdefault(measure, []).append(code)
    for code, measure in _codes(DEFAULT_ACTIVITY_CODES, spec.activity_codes).items():
        codes_by_measure.setdefault(measure, []).insert(0, code)
    return MeasureRows(
        partner_id,
        source_file_id,
        codes_by_measure,
        constants=spec.constants,
        default_currency=default_currency,
        account=account,
    )


def _read(
    readers: dict[str, _SetReader],
    spec: FileSpec,
    separators: Separators,
    rows: MeasureRows,
    transaction: TransactionSet,
) -> bool:
    """Read one set with the reader of its kind (one per kind, so its count of items spans the file)."""
    reader = readers.setdefault(transaction.kind, _SetReader(spec, separators, rows, transaction.kind))
    return reader.read(transaction)


def _quantities(transaction: TransactionSet) -> list[float | None]:
    """Every quantity element of a set, as :class:`_SetReader` counts them (for sets that are not read)."""
    values: list[float | None] = []
    segments = transaction.segments
    for position, segment in enumerate(segments):
        if segment.tag == "QTY" and segment[2]:
            values.append(parse_number(segment[2]))
        elif segment.tag == "SDQ":
            pairs = list(segment.elements[3:])
            values += [parse_number(pairs[i].strip()) for i in range(1, len(pairs), 2) if pairs[i].strip()]
        elif segment.tag == "ZA" and segment[2] and not _za_has_sdq(segments, position):
            values.append(parse_number(segment[2]))
    return values


def _za_has_sdq(segments: list[Segment], position: int) -> bool:
    for segment in segments[position + 1 :]:
        if segment.tag in ("ZA", "LIN", "N1", "CTT", "SE"):
            return False
        if segment.tag == "SDQ":
            return True
    return False


def _codes(defaults: dict[str, str | None], overrides: dict[str, str | None]) -> dict[str, str]:
    merged = {**defaults, **overrides}
    return {code: measure for code, measure in merged.items() if measure is not None}


@dataclass
class _Item:
    product_ref: str | None
    problems: list[str]
    segment: Segment


@dataclass
class _Pending:
    """A ZA or QTY loop: its quantity goes to the loop's store unless SDQ segments spread it."""

    measure: str | None
    code: str
    label: str  # "852 ZA activity codes" / "846 QTY qualifiers", for what is left unmapped
    segment: Segment
    quantity: str
    uom: str | None
    item: _Item
    store: tuple[str | None, list[str]]
    period: tuple[date, date] | None
    activity: bool = False  # a ZA loop (which QTY sub-segments do not end), not a QTY loop
    spread: list[Segment] = field(default_factory=list)
    spread_seen: bool = False


class _SetReader:
    def __init__(self, spec: FileSpec, separators: Separators, rows: MeasureRows, kind: str) -> None:
        self.spec = spec
        self.separators = separators
        self.rows = rows
        self.kind = kind
        self.activity_codes = _codes(DEFAULT_ACTIVITY_CODES, spec.activity_codes)
        self.quantity_codes = _codes(DEFAULT_QUANTITY_CODES[kind], spec.quantity_codes)
        self.qualifiers = spec.item_qualifiers or DEFAULT_ITEM_QUALIFIERS
        self.account = rows.account
        self.items = 0

    def read(self, transaction: TransactionSet) -> bool:
        """Add the set's quantities to the rows; False (with a fatal defect recorded) when the set is unusable."""
        segments = transaction.segments[1:-1]
        period = self._period(transaction, segments)
        if period is None:
            return False
        heading: tuple[str | None, list[str]] = (None, [])
        loop_store: tuple[str | None, list[str]] | None = None
        item: _Item | None = None
        item_date: date | None = None
        pending: _Pending | None = None
        staged: list = []

        def flush() -> None:
            nonlocal pending
            if pending is not None:
                staged.append(pending)
            pending = None

        for segment in segments:
            tag = segment.tag
            transaction.defects.extend(element_defects(segment, self.separators))
            if tag == "REF" and len(segment.elements) - 1 > 4:
                self.account.notes.append(
                    f"REF at segment {segment.number} carries extra elements ({segment.text[:60]!r}): a segment "
                    "terminator may be missing, and anything after it is not read"
                )
            if tag in ("SDQ", "UIT", "CTP", "SCH", "DTM", "REF") and pending is not None:
                if tag == "SDQ":
                    self._spread(segment, pending)
                elif tag == "UIT" and pending.uom is None:
                    pending.uom = segment[1].split(self.separators.component)[0] or None
                if not (tag == "DTM" and self.kind == "846" and segment[1] in INVENTORY_DATE_QUALIFIERS):
                    continue
            if tag == "QTY" and pending is not None and pending.activity:
                # A QTY inside a ZA loop is a quantity in its own right; the ZA loop (and its SDQs) goes on.
                staged.append(
                    self._pending(segment, item, self._store(loop_store, heading), period, item_date, qty=True)
                )
                continue
            flush()
            if tag == "N1" and segment[1] in STORE_ENTITIES and segment[4]:
                store = self._location(segment[3], segment[4])
                if self.kind == "846" and item is not None:
                    loop_store = store
                else:
                    heading, loop_store = store, None
            elif tag == "DTM" and self.kind == "846" and segment[1] in INVENTORY_DATE_QUALIFIERS:
                day = self._date(segment[2], segment, "DTM02", transaction)
                if item is None:
                    period = (day, day) if day else period
                else:
                    item_date = day
            elif tag == "LIN":
                self.items += 1
                item = _Item(*self._item(segment), segment)
                loop_store, item_date = None, None
            elif tag == "ZA" and self.kind == "852" and item is not None:
                pending = self._pending(segment, item, self._store(loop_store, heading), period, item_date, qty=False)
            elif tag == "QTY" and item is not None:
                pending = self._pending(segment, item, self._store(loop_store, heading), period, item_date, qty=True)
        flush()
        if any(defect.fatal for defect in transaction.defects):
            return False
        for staged_pending in staged:
            self._finish(staged_pending)
        return True

    @staticmethod
    def _store(loop_store, heading):
        return loop_store if loop_store is not None else heading

    def _period(self, transaction: TransactionSet, segments: list[Segment]) -> tuple[date, date] | None:
        for segment in segments:
            if segment.tag == "XQ" and self.kind == "852":
                start = self._date(segment[2], segment, "XQ02", transaction)
                end = self._date(segment[3], segment, "XQ03", transaction) if segment[3] else start
                if start is None or end is None:
                    return None
                if end < start:
                    self._fatal(transaction, segment, f"XQ period ends {end} before {start}", 3, "8")
                    return None
                return start, end
            if segment.tag == "BIA" and self.kind == "846" and segment[4]:
                day = self._date(segment[4], segment, "BIA04", transaction)
                return (day, day) if day else None
            if segment.tag == "DTM" and self.kind == "846" and segment[1] in INVENTORY_DATE_QUALIFIERS:
                day = self._date(segment[2], segment, "DTM02", transaction)
                return (day, day) if day else None
            if segment.tag == "LIN":
                break
        reason = (
            "852 transaction set has no XQ reporting period"
            if self.kind == "852"
            else "846 transaction set has no inventory date (BIA04 or DTM*007/405)"
        )
        transaction.defects.append(Defect(SET, transaction.first_segment, reason, "ST", x12_code="5"))
        return None

    def _fatal(self, transaction: TransactionSet, segment: Segment, reason: str, element: int, code: str) -> None:
        transaction.defects.append(
            Defect(ELEMENT, segment.number, reason, segment.tag, element, x12_code=code, value=segment[element])
        )

    def _date(self, text: str, segment: Segment, element: str, transaction: TransactionSet) -> date | None:
        form = {8: "%Y%m%d", 6: "%y%m%d"}.get(len(text))
        if form is not None and text.isdigit():
            try:
                return datetime.strptime(text, form).date()
            except ValueError:
                pass
        position = int(element[-2:])
        self._fatal(transaction, segment, f"{element} '{text}' is not a date (CCYYMMDD or YYMMDD)", position, "8")
        return None

    def _pending(self, segment, item, store, period, item_date, *, qty: bool) -> _Pending:
        codes = self.quantity_codes if qty else self.activity_codes
        label = f"{self.kind} QTY qualifiers" if qty else f"{self.kind} ZA activity codes"
        uom = segment[3].split(self.separators.component)[0] or None
        when = (item_date, item_date) if item_date is not None else period
        return _Pending(
            codes.get(segment[1]), segment[1], label, segment, segment[2], uom, item, store, when, activity=not qty
        )

    @staticmethod
    def _spread(segment: Segment, pending: _Pending) -> None:
        pending.spread_seen = True
        pending.spread.append(segment)

    def _finish(self, pending: _Pending) -> None:
        if not pending.spread_seen:
            if pending.quantity:
                self._add(pending, pending.quantity, pending.store, [pending.segment], pending.uom)
            return
        total = 0.0
        for segment in pending.spread:
            uom = segment[1] or pending.uom
            values = list(segment.elements[3:])
            while values and not values[-1].strip():
                values.pop()
            for index in range(0, len(values), 2):
                store_text = values[index].strip()
                quantity = values[index + 1].strip() if index + 1 < len(values) else ""
                if not store_text and not quantity:
                    continue
                store = self._location(segment[2], store_text)
                if not quantity:
                    self.rows.account.notes.append(
                        f"SDQ at segment {segment.number} gives store '{store_text}' no quantity"
                    )
                    continue
                total += parse_number(quantity) or 0.0
                extra = (
                    []
                    if len(values) <= 2 * MAX_SDQ_PAIRS
                    else [f"SDQ at segment {segment.number} holds more than {MAX_SDQ_PAIRS} pairs"]
                )
                self._add(pending, quantity, (store[0], [*store[1], *extra]), [pending.segment, segment], uom)
        declared = parse_number(pending.quantity) if pending.quantity else None
        if declared is not None and abs(declared - total) > 1e-9:
            self.rows.account.notes.append(
                f"ZA at segment {pending.segment.number} says {pending.quantity} in total but its SDQs add up to "
                f"{total:g}"
            )

    def _add(self, pending: _Pending, quantity: str, store, segments: list[Segment], uom: str | None) -> None:
        if pending.measure is None:
            self.account.seen(parse_number(quantity))
            self.account.leave_unmapped(pending.label, pending.code, parse_number(quantity))
            return
        self.rows.add(
            pending.measure,
            pending.code,
            quantity,
            location_id=store[0],
            product_ref=pending.item.product_ref,
            period=pending.period,
            segment=segments[-1].number,
            raw=[pending.item.segment.text, *(segment.text for segment in segments)],
            problems=[*pending.item.problems, *store[1]],
            uom=uom,
            item_segment=pending.item.segment.number,
        )

    def _item(self, segment: Segment) -> tuple[str | None, list[str]]:
        """The LIN's product ref by the preferred qualifier, checked and normalised where it is a GTIN."""
        pairs: dict[str, str] = {}
        for index in range(2, len(segment.elements) - 1, 2):
            qualifier, value = segment[index], segment[index + 1]
            if qualifier and value and qualifier not in pairs:
                pairs[qualifier] = value
        for qualifier in self.qualifiers:
            value = pairs.get(qualifier)
            if value is None:
                continue
            if qualifier in GTIN_QUALIFIERS and self.spec.gtin_mode != "off":
                if qualifier == "UI":
                    upc = upc_from_consumer_package_code(value)
                    if upc is None:
                        return value, [
                            f"LIN UI '{value}' is not an 11-digit U.P.C. consumer package code "
                            f"(segment {segment.number})"
                        ]
                    value = upc
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

    def _location(self, qualifier: str, store: str) -> tuple[str | None, list[str]]:
        if not store:
            return None, []
        if qualifier in GLN_QUALIFIERS and self.spec.gtin_mode != "off":
            problem = gln_problem(store)
            if problem is not None:
                return store, [f"store {problem}"]
        return store, []
