"""Canonical stock and sales rows assembled from the quantities an EDI message reports (X12 852/846, EANCOM)."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date

from assets.feeds.parsers.interchange import QuantityAccount, parse_number
from assets.feeds.parsers.results import ParseResult, result_from_records
from assets.feeds.partner_config import MEASURES

# A count of what is on the shelf is a state: the same count twice is one count, two different counts conflict.
# Everything else a message reports is a flow over the period (sold, returned, received, out of stock) or a sum
# of open orders and shipments (on order, in transit): repeated lines of one item, store and period add up.
STATE_MEASURES = frozenset({"on_hand_qty"})


@dataclass(frozen=True, slots=True)
class _Quantity:
    measure: str
    code: str
    text: str
    value: float | None
    segment: int
    uom: str | None
    interchange: int = 0


@dataclass(slots=True)
class _MeasureRow:
    record_type: str
    location_id: str | None
    product_ref: str | None
    period: tuple[date, date]
    line: int
    quantities: list[_Quantity] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)


class MeasureRows:
    """Canonical stock and sales rows assembled from EDI measures, one row per record type, store, item and period.

    X12 and EDIFACT report a quantity per activity or quantity code (an 852 ``ZA*QS`` spread by ``SDQ``, an 846
    ``QTY*17``, an EANCOM ``QTY+145``); each code maps to a canonical measure, and the measures of one store, item
    and period make one row. Repeated lines of one row add up (a sale and a return at two prices, one store in
    two location groups), except stock counts, where only different counts conflict; ``merged_lines`` keeps how
    many lines made the row. Where two codes feed one measure (846 ``QTY*17`` on hand and ``QTY*33`` available),
    the one first in ``codes_by_measure`` wins and the other is accounted as unused. Problems found on the way (a
    bad GTIN, no store, a quantity that is not a number, conflicting counts, mixed units) reject the whole row
    with every reason. A measure the message does not report stays null; a stock row needs any stock measure.
    Every quantity lands in ``account``: loaded, rejected or unused.

    Each interchange of a file has its own outcome: the parser sets ``interchange`` (its index) before reading
    it, takes a :meth:`checkpoint` before each transaction set or message and :meth:`rollback` to it when the
    set turns out unusable, and ``tallies`` counts the quantities of each interchange by where they went.
    """

    def __init__(
        self,
        partner_id: str,
        source_file_id: str,
        codes_by_measure: Mapping[str, Sequence[str]],
        *,
        constants: Mapping[str, object] | None = None,
        default_currency: str | None = None,
        account: QuantityAccount | None = None,
    ) -> None:
        self.partner_id = partner_id
        self.source_file_id = source_file_id
        self.codes_by_measure = codes_by_measure
        self.constants = dict(constants or {})
        self.default_currency = default_currency
        self.account = account if account is not None else QuantityAccount()
        self._rows: dict[tuple, _MeasureRow] = {}
        self._blocks: list[tuple[str, int, str, str]] = []
        # What each add changed, so a set found unusable after some of its quantities were added can be taken out.
        self._log: list[tuple[tuple, bool, int, int]] = []
        self.interchange = 0
        self.tallies: dict[int, Counter] = {}

    def checkpoint(self) -> tuple[int, QuantityAccount]:
        """The state to :meth:`rollback` to: rows added and the account so far (earlier marks lapse)."""
        self._log.clear()
        return 0, copy.deepcopy(self.account)

    def rollback(self, mark: tuple[int, QuantityAccount]) -> None:
        """Take out every quantity added since ``mark`` and restore the account as it was then."""
        size, account = mark
        while len(self._log) > size:
            key, created, raw_size, problems_size = self._log.pop()
            row = self._rows[key]
            row.quantities.pop()
            if created:
                del self._rows[key]
            else:
                del row.raw[raw_size:], row.problems[problems_size:]
        for item in fields(account):
            setattr(self.account, item.name, getattr(account, item.name))

    def tally(self, interchange: int, **counts: int) -> None:
        """Add quantity counts (reported, loaded, rejected, unused) to an interchange's tally."""
        self.tallies.setdefault(interchange, Counter()).update(counts)

    def add(
        self,
        measure: str,
        code: str,
        quantity: str,
        *,
        location_id: str | None,
        product_ref: str | None,
        period: tuple[date, date],
        segment: int,
        raw: Sequence[str],
        problems: Sequence[str] = (),
        uom: str | None = None,
        item_segment: int | None = None,
    ) -> None:
        """One reported quantity (text as sent, decimal point '.') of ``measure`` for a store, item and period.

        ``item_segment`` (the LIN's number) keeps items without a usable id apart, so two of them never merge.
        """
        record_type = MEASURES[measure]
        location_id = location_id or self.constants.get("location_id")
        key_period = period if record_type == "sales" else (period[1], period[1])
        item_key = product_ref if product_ref is not None else f"#{item_segment}"
        key = (record_type, location_id, item_key, key_period)
        row = self._rows.get(key)
        self._log.append((key, row is None, len(row.raw) if row else 0, len(row.problems) if row else 0))
        if row is None:
            row = self._rows[key] = _MeasureRow(record_type, location_id, product_ref, key_period, segment)
        for text in raw:
            if text not in row.raw:
                row.raw.append(text)
        for problem in problems:
            if problem not in row.problems:
                row.problems.append(problem)
        if not location_id and "no store given for this quantity" not in row.problems:
            row.problems.append("no store given for this quantity")
        value = parse_number(quantity.strip())
        self.account.seen(value)
        if value is None:
            row.problems.append(f"bad quantity '{quantity}' for {code} at segment {segment}")
        row.quantities.append(
            _Quantity(measure, code, quantity, value, segment, (uom or "").strip() or None, self.interchange)
        )

    def reject_block(self, record_type: str, line: int, reason: str, raw: str) -> None:
        """A whole transaction set or message that could not be used, as one reject at its first segment.

        Its quantities are accounted by the caller.
        """
        self._blocks.append((record_type, line, reason, raw))

    def results(self) -> dict[str, ParseResult]:
        """Stock and sales results (each present, possibly empty), rows in the order they were first reported."""
        records: dict[str, list[dict]] = {"stock": [], "sales": []}
        rejects: dict[str, list[tuple[int, str, str]]] = {"stock": [], "sales": []}
        for record_type, line, reason, raw in self._blocks:
            rejects["sales" if record_type not in rejects else record_type].append((line, reason, raw))
        # Each row is let go once it is a record, so the rows and the records are not held whole at once.
        ordered = sorted(self._rows.values(), key=lambda item: item.line)
        self._rows.clear()
        ordered.reverse()
        while ordered:
            row = ordered.pop()
            values, used, unused, problems = self._measures(row)
            problems = [*row.problems, *problems]
            if problems:
                rejects[row.record_type].append((row.line, "; ".join(problems), "\n".join(row.raw)))
                self.account.reject([quantity.value for quantity in row.quantities])
                for quantity in row.quantities:
                    self.tally(quantity.interchange, rejected=1)
                continue
            self.account.use([quantity.value for quantity in used])
            for quantity in used:
                self.tally(quantity.interchange, loaded=1)
            for why, quantity in unused:
                self.account.leave(why, quantity.value)
                self.tally(quantity.interchange, unused=1)
            units = {quantity.uom for quantity in used if quantity.uom}
            record: dict[str, object] = {
                "location_id": row.location_id,
                "product_ref": row.product_ref,
                "source_line": row.line,
                "merged_lines": len(used),
                # A measure the message does not report is unknown (null), never zero.
                **{measure: None for measure, kind in MEASURES.items() if kind == row.record_type},
                **values,
            }
            if units:
                record["uom"] = units.pop()
            if row.record_type == "stock":
                record["as_of_date"] = row.period[1]
            else:
                record["period_start"], record["period_end"] = row.period
            records[row.record_type].append(record)
        return {
            record_type: result_from_records(
                record_type,
                records[record_type],
                rejects[record_type],
                self.partner_id,
                self.source_file_id,
                constants=self.constants,
                default_currency=self.default_currency,
            )
            for record_type in ("stock", "sales")
        }

    def _measures(
        self, row: _MeasureRow
    ) -> tuple[dict[str, float], list[_Quantity], list[tuple[str, _Quantity]], list[str]]:
        """The row's value per measure, the quantities used, those left unused (with why) and any problems."""
        values: dict[str, float] = {}
        used: list[_Quantity] = []
        unused: list[tuple[str, _Quantity]] = []
        problems: list[str] = []
        by_measure: dict[str, list[_Quantity]] = {}
        for quantity in row.quantities:
            by_measure.setdefault(quantity.measure, []).append(quantity)
        for measure, quantities in by_measure.items():
            preference = list(self.codes_by_measure.get(measure, ()))
            codes = sorted(
                {quantity.code for quantity in quantities},
                key=lambda code: preference.index(code) if code in preference else len(preference),
            )
            winner = codes[0]
            chosen = [quantity for quantity in quantities if quantity.code == winner]
            for quantity in quantities:
                if quantity.code != winner:
                    unused.append((f"{quantity.code} ({measure} taken from {winner})", quantity))
            units = {quantity.uom for quantity in chosen if quantity.uom}
            if len(units) > 1:
                problems.append(f"{measure} reported in different units ({', '.join(sorted(units))})")
            numbers = [quantity.value for quantity in chosen if quantity.value is not None]
            if len(numbers) != len(chosen):
                continue
            if measure in STATE_MEASURES and len(set(numbers)) > 1:
                where = ", ".join(f"{quantity.text} at segment {quantity.segment}" for quantity in chosen)
                problems.append(f"{measure} reported with conflicting counts for this item and store ({where})")
                continue
            values[measure] = numbers[0] if measure in STATE_MEASURES else sum(numbers)
            used += chosen
        units = sorted({quantity.uom for quantity in used if quantity.uom})
        if len(units) > 1:
            problems.append(f"measures of this item and store come in different units ({', '.join(units)})")
        return values, used, unused, problems
