"""EDIFACT / EANCOM INVRPT (inventory report) and SLSRPT (sales data report) into canonical stock and sales rows.

The envelope (``edifact_envelope.py``) is read first: UNA service characters, the release character, the UNB
character set, whitespace after terminators, several interchanges per file, every count and reference checked.
An interchange with a structural envelope defect is refused whole, a message with one is left out, and the rest
loads (``interchange_outcomes.py`` records each interchange's outcome); a file in which nothing can load is
refused with the first real defect by segment number (then the others), and the error carries every
interchange, so each can still be acknowledged.

Messages are read by their segment groups, and the qualifier decides what a date or location means:

- dates (``DTM``, formats 102, 203, 204, 101, 718 with or without the hyphen, 616 ISO week, 602 year): ``137``
  document date, ``366`` inventory report date (what dates stock), ``90``/``91``, ``356``/``357`` and
  ``194``/``206`` period start and end (a range format gives both). Header dates apply to the message; dates in a
  location group (after its ``LOC``, before its first ``LIN``) replace them for that group. Line-level dates
  (a ``DTM+273`` validity range, a delivery date) never re-date a line.
- locations: ``LOC+162`` sales point, ``LOC+14`` place of inventory, ``LOC+7`` place of delivery. In a SLSRPT
  every ``LOC`` opens a location group for the lines that follow, as a ``LOC+162`` does in an INVRPT; there a
  ``LOC+14``/``7`` inside a line item names where that line's following quantities are held.
- quantities (``QTY``, EANCOM 6063, mapped per partner): ``145`` actual stock and ``17`` quantity on hand (145
  first), ``152``/``153`` sold, ``61`` returned, ``48`` received, ``217`` out of inventory (a stock-out). Any other
  qualifier is accounted as unused, by code. ``CNT+2`` line counts are checked when present.
- items: ``LIN`` (with ``PIA`` additional ids) by the partner's qualifier order; ``SRV``/``EN``/``UP`` GTINs are
  check-digit verified and normalised, other ids are passed on for the partner item cross-reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path

from assets.feeds.identity import gln_problem, gtin_problem
from assets.feeds.parsers.edifact_envelope import (
    SUPPORTED_MESSAGES,
    Segment,
    Syntax,
    scan_edifact,
)
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
from assets.feeds.partner_config import MEASURES, FileSpec

DEFAULT_ITEM_QUALIFIERS = ("SRV", "EN", "UP", "SA", "VN", "VP", "MF", "IN", "BP")
GTIN_QUALIFIERS = frozenset({"SRV", "EN", "UP"})
DEFAULT_QUANTITY_CODES: dict[str, str | None] = {
    "145": "on_hand_qty",
    "17": "on_hand_qty",
    "152": "units_sold",
    "153": "units_sold",
    "61": "units_returned",
    "48": "units_received",
    "217": "units_out_of_stock",
}
SALES_POINT = "162"
STORE_QUALIFIERS = frozenset({SALES_POINT, "14", "7"})
GS1_AGENCY = "9"  # code list agency of GLNs in LOC and NAD
PERIOD_START = frozenset({"90", "356", "194"})
PERIOD_END = frozenset({"91", "357", "206"})
DOCUMENT_DATE = "137"
INVENTORY_DATE = "366"
LINE_COUNT_QUALIFIER = "2"  # CNT+2: number of line items in the message
RANGE_FORMATS = frozenset({"718", "719", "616", "602"})


def parse_edifact(
    path: Path,
    spec: FileSpec,
    partner_id: str,
    source_file_id: str,
    *,
    default_currency: str | None = None,
) -> ParsedFile:
    """Parse the EDIFACT interchanges of one file (INVRPT and/or SLSRPT) into stock and sales rows and rejects."""
    path = Path(path)
    # Read segment by segment: envelopes first, then each message as it ends (memory bounded by one message).
    scanned = scan_edifact(path)
    interchanges = scanned.interchanges
    quantity_codes = {
        code: measure
        for code, measure in {**DEFAULT_QUANTITY_CODES, **spec.quantity_codes}.items()
        if measure is not None
    }
    codes_by_measure: dict[str, list[str]] = {}
    for code, measure in quantity_codes.items():
        codes_by_measure.setdefault(measure, []).append(code)
    account = QuantityAccount(partner_id=partner_id)
    rows = MeasureRows(
        partner_id,
        source_file_id,
        codes_by_measure,
        constants=spec.constants,
        default_currency=default_currency,
        account=account,
    )
    items = 0
    for interchange, syntax, message in scanned.sets():
        if interchange.test and message is interchange.sets[0]:
            account.notes.append(f"interchange {interchange.control_number} is marked as a test (UNB 0035 = 1)")
        if spec.message is not None and message.kind != spec.message and message.kind in SUPPORTED_MESSAGES:
            message.defects.append(
                Defect(
                    SET,
                    message.first_segment,
                    f"message {message.kind} where this feed expects {spec.message}",
                    "UNH",
                    2,
                    edifact_code="14",
                )
            )
        reader = _MessageReader(message, spec, syntax, quantity_codes, rows)
        read_set(rows, interchange, message, reader.read, partial(_quantities, message, syntax))
        items += reader.items
    # Each interchange, and each message in a sound one, loads or is refused on its own (interchange_outcomes.py);
    # the file is refused only when nothing in it can load, naming the first real defect (and the others).
    if not any(is_usable(interchange) for interchange in interchanges) and any(
        map(Interchange.first_fatal, interchanges)
    ):
        raise refusal(path, interchanges)
    if items == 0:
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


def _quantities(message: TransactionSet, syntax: Syntax) -> list[float | None]:
    """Every quantity element of a message (QTY C186 6060), as :class:`_MessageReader` counts them."""
    return [
        parse_number(segment.get(1, 1).replace(syntax.decimal, "."))
        for segment in message.segments
        if segment.tag == "QTY"
    ]


@dataclass
class _Dates:
    document: date | None = None
    inventory: date | None = None
    start: date | None = None
    end: date | None = None

    def any_period(self) -> bool:
        return self.start is not None or self.end is not None or self.inventory is not None


@dataclass
class _Place:
    store: str | None = None
    problems: list[str] = field(default_factory=list)


class _MessageReader:
    def __init__(
        self,
        message: TransactionSet,
        spec: FileSpec,
        syntax: Syntax,
        quantity_codes: dict[str, str],
        rows: MeasureRows,
    ) -> None:
        self.message = message
        self.spec = spec
        self.syntax = syntax
        self.quantity_codes = quantity_codes
        self.rows = rows
        self.qualifiers = spec.item_qualifiers or DEFAULT_ITEM_QUALIFIERS
        self.items = 0

    def read(self) -> bool:
        """Add the message's quantities to the rows; False (a fatal defect recorded) when it cannot be used."""
        message = self.message
        header, group = _Dates(), _Dates()
        place, line_place = _Place(), None
        zone = "header"
        lin: Segment | None = None
        item_ids: dict[str, str] = {}
        staged: list[tuple[Segment, Segment, dict[str, str], _Place, _Dates, _Dates]] = []
        for segment in message.segments[1:-1]:
            tag = segment.tag
            if tag == "DTM":
                if zone == "header":
                    self._date(segment, header)
                elif zone == "group":
                    self._date(segment, group)
            elif tag == "LOC" and segment.get(1) in STORE_QUALIFIERS:
                located = self._place(segment)
                if zone == "line" and message.kind == "INVRPT" and segment.get(1) != SALES_POINT:
                    line_place = located
                else:
                    place, line_place, group, zone, lin = located, None, _Dates(), "group", None
            elif tag == "LIN":
                self.items += 1
                zone, lin, line_place = "line", segment, None
                item_ids = {segment.get(3, 1): segment.get(3)} if segment.get(3) else {}
            elif tag == "PIA" and lin is not None:
                for element in range(2, len(segment.elements)):
                    if segment.get(element) and segment.get(element, 1):
                        item_ids.setdefault(segment.get(element, 1), segment.get(element))
            elif tag == "QTY":
                if lin is None:
                    value = parse_number(segment.get(1, 1).replace(self.syntax.decimal, "."))
                    self.rows.account.seen(value)
                    self.rows.account.leave(f"{message.kind} QTY+{segment.get(1)} outside a line item", value)
                    continue
                staged.append((segment, lin, dict(item_ids), line_place or place, header, group))
            elif tag == "CNT" and segment.get(1, 0) == LINE_COUNT_QUALIFIER:
                declared = segment.get(1, 1)
                if not declared.isdigit() or int(declared) != self.items:
                    message.defects.append(
                        Defect(
                            SET,
                            segment.number,
                            f"CNT+2 says {declared or 'nothing'} line items but message {message.control} has "
                            f"{self.items} LIN segments",
                            "CNT",
                            1,
                            edifact_code="29",
                        )
                    )
        if message.rejected:
            return False
        for segment, item_lin, ids, where, header_dates, group_dates in staged:
            if not self._quantity(
                segment, item_lin, ids, where, group_dates if group_dates.any_period() else header_dates, header_dates
            ):
                return False
        return not message.rejected

    def _quantity(
        self, segment: Segment, lin: Segment, item_ids: dict[str, str], where: _Place, dates: _Dates, header: _Dates
    ) -> bool:
        code = segment.get(1, 0)
        quantity = segment.get(1, 1)
        if self.syntax.decimal != ".":
            quantity = quantity.replace(self.syntax.decimal, ".")
        measure = self.quantity_codes.get(code)
        if measure is None:
            value = parse_number(quantity)
            self.rows.account.seen(value)
            self.rows.account.leave_unmapped(f"{self.message.kind} QTY qualifiers", code, value)
            return True
        period = self._period(measure, dates, header)
        if period is None:
            return False
        product_ref, item_problems = self._item(item_ids, lin)
        self.rows.add(
            measure,
            f"QTY+{code}",
            quantity,
            location_id=where.store,
            product_ref=product_ref,
            period=period,
            segment=segment.number,
            raw=[lin.text, segment.text],
            problems=[*item_problems, *where.problems],
            uom=segment.get(1, 2) or None,
            item_segment=lin.number,
        )
        return True

    def _period(self, measure: str, dates: _Dates, header: _Dates) -> tuple[date, date] | None:
        message = self.message
        if MEASURES[measure] == "stock":
            day = dates.inventory or dates.end or dates.start or header.inventory or header.document
            if day is None:
                self._fail(f"{message.kind} message {message.control} has no inventory date (DTM+366, 91/357 or 137)")
                return None
            return day, day
        first, last = dates.start or dates.end, dates.end or dates.start
        if first is None or last is None:
            self._fail(f"{message.kind} message {message.control} has no sales period (DTM+90/91, 356/357 or 194/206)")
            return None
        if last < first:
            self._fail(f"sales period ends {last} before {first}")
            return None
        return first, last

    def _fail(self, reason: str) -> None:
        self.message.defects.append(Defect(SET, self.message.first_segment, reason, "UNH", edifact_code="13"))

    def _date(self, segment: Segment, dates: _Dates) -> None:
        qualifier = segment.get(1, 0)
        if qualifier not in PERIOD_START | PERIOD_END | {DOCUMENT_DATE, INVENTORY_DATE}:
            return
        value, form = segment.get(1, 1), segment.get(1, 2) or "102"
        span = _span(value, form)
        if span is None:
            self.message.defects.append(
                Defect(
                    ELEMENT,
                    segment.number,
                    f"DTM value '{value}' is not a date in format {form} (supported: 102, 203, 204, 101, 718, 616, "
                    "602)",
                    "DTM",
                    1,
                    2,
                    edifact_code="12",
                    value=value,
                )
            )
            return
        first, last = span
        if form in RANGE_FORMATS and qualifier not in (DOCUMENT_DATE, INVENTORY_DATE):
            dates.start, dates.end = first, last
        elif qualifier == DOCUMENT_DATE:
            dates.document = last
        elif qualifier == INVENTORY_DATE:
            dates.inventory = last
        elif qualifier in PERIOD_START:
            dates.start = first
        else:
            dates.end = last

    def _place(self, segment: Segment) -> _Place:
        store = segment.get(2) or None
        if store and segment.get(2, 2) == GS1_AGENCY and self.spec.gtin_mode != "off":
            problem = gln_problem(store)
            if problem:
                return _Place(store, [f"store {problem}"])
        return _Place(store)

    def _item(self, item_ids: dict[str, str], lin: Segment) -> tuple[str | None, list[str]]:
        for qualifier in self.qualifiers:
            value = item_ids.get(qualifier)
            if value is None:
                continue
            if qualifier in GTIN_QUALIFIERS and self.spec.gtin_mode != "off":
                problem = gtin_problem(value)
                if problem is not None:
                    return value, [f"{problem} (LIN at segment {lin.number})"]
                if self.spec.gtin_mode == "normalise":
                    value = value.zfill(14)
            return value, []
        found = ", ".join(qualifier or "unqualified" for qualifier in item_ids) or "none"
        return None, [
            f"LIN at segment {lin.number} has no item id qualified {'/'.join(self.qualifiers)} (found {found})"
        ]


_DATE_FORMATS = {"102": "%Y%m%d", "203": "%Y%m%d%H%M", "204": "%Y%m%d%H%M%S", "101": "%y%m%d"}


def _day(value: str, form: str) -> date | None:
    try:
        return datetime.strptime(value, _DATE_FORMATS[form]).date()
    except (KeyError, ValueError):
        return None


def _span(value: str, form: str) -> tuple[date, date] | None:
    """The first and last day a DTM value covers, or None when it is not a date in that format."""
    value = value.strip()
    if form in ("718", "719"):
        width = 8 if form == "718" else 12
        first_text, _, last_text = value.partition("-")
        if not last_text and len(value) == 2 * width:
            first_text, last_text = value[:width], value[width:]
        sub = "102" if form == "718" else "203"
        first, last = _day(first_text, sub), _day(last_text, sub)
        return (first, last) if first and last and first <= last else None
    if form == "616" and len(value) == 6 and value.isdigit():
        try:
            monday = date.fromisocalendar(int(value[:4]), int(value[4:]), 1)
        except ValueError:
            return None
        return monday, monday + timedelta(days=6)
    if form == "602" and len(value) == 4 and value.isdigit():
        return date(int(value), 1, 1), date(int(value), 12, 31)
    day = _day(value, form)
    return (day, day) if day else None


__all__ = ["Interchange", "parse_edifact"]
