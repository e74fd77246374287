"""Canonical stock and sales rows assembled from the quantities an EDI message reports (X12 852/846, EANCOM).

Quantities are kept in columns while a file is read (one compact array per attribute, every repeated value such
as a store, an item, a period or a segment's text stored once and referred to by its code), and become rows
only when the file is done: a row-dense 852 (a row per ten bytes) costs tens of bytes a quantity, not a Python
object per row.
"""

from __future__ import annotations

import copy
from array import array
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date

import numpy as np
import pandas as pd

from assets.feeds.parsers.cell_rules import default_value
from assets.feeds.parsers.interchange import QuantityAccount, parse_number
from assets.feeds.parsers.results import ParseResult, result_from_columns
from assets.feeds.partner_config import MEASURES

# A count of what is on the shelf is a state: the same count twice is one count, two different counts conflict.
# Everything else a message reports is a flow over the period (sold, returned, received, out of stock) or a sum
# of open orders and shipments (on order, in transit): repeated lines of one item, store and period add up.
STATE_MEASURES = frozenset({"on_hand_qty"})
RECORD_TYPES = ("stock", "sales")

# Each quantity's attributes, a typed array each: codes into ``_Codes`` tables, the value (NaN when the text is
# not a number), the segment it was reported at.
_COLUMNS = {
    "measure": "B",
    "code": "I",
    "text": "I",
    "value": "d",
    "segment": "I",
    "location": "I",
    "item": "I",
    "product": "I",
    "period": "I",
    "uom": "I",
    "interchange": "I",
    "raw": "I",
    "problems": "I",
}


class _Codes:
    """Distinct values in the order first seen, each with its code (its index)."""

    def __init__(self) -> None:
        self.codes: dict[Hashable, int] = {}
        self.values: list = []

    def __call__(self, value: Hashable) -> int:
        code = self.codes.get(value)
        if code is None:
            code = self.codes[value] = len(self.values)
            self.values.append(value)
        return code

    def objects(self) -> np.ndarray:
        table = np.empty(len(self.values), dtype=object)
        table[:] = self.values
        return table


@dataclass(frozen=True, slots=True)
class _Quantity:
    measure: str
    code: str
    text: str
    value: float | None
    segment: int
    uom: str | None
    interchange: int = 0


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
        self._columns = {name: array(kind) for name, kind in _COLUMNS.items()}
        # Items and product refs share a table (most items are their product ref); raw texts are kept in order.
        coded = [name for name in _COLUMNS if name not in ("value", "segment", "interchange", "product")]
        self._codes = {name: _Codes() for name in coded}
        self._codes["problems"](())  # code 0: no problem
        self._blocks: list[tuple[str, int, str, str]] = []
        self.interchange = 0
        self.tallies: dict[int, Counter] = {}

    def checkpoint(self) -> tuple[int, QuantityAccount]:
        """The state to :meth:`rollback` to: quantities added and the account so far."""
        return len(self._columns["value"]), copy.deepcopy(self.account)

    def rollback(self, mark: tuple[int, QuantityAccount]) -> None:
        """Take out every quantity added since ``mark`` and restore the account as it was then."""
        size, account = mark
        for column in self._columns.values():
            del column[size:]
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
        value = parse_number(quantity.strip())
        self.account.seen(value)
        codes, columns = self._codes, self._columns
        key_period = period if MEASURES[measure] == "sales" else (period[1], period[1])
        attributes = {
            "measure": measure,
            "code": code,
            "text": quantity,
            "location": location_id or self.constants.get("location_id"),
            "item": product_ref if product_ref is not None else f"#{item_segment}",
            "period": key_period,
            "uom": (uom or "").strip() or None,
            "problems": tuple(problems),
        }
        for name, attribute in attributes.items():
            columns[name].append(codes[name](attribute))
        columns["product"].append(codes["item"](product_ref))
        # The lines of a quantity are seldom another's, save the quantity before (the next store of an SDQ).
        texts, raw = codes["raw"].values, tuple(raw)
        if not texts or texts[-1] != raw:
            texts.append(raw)
        columns["raw"].append(len(texts) - 1)
        columns["value"].append(np.nan if value is None else value)
        columns["segment"].append(segment)
        columns["interchange"].append(self.interchange)

    def reject_block(self, record_type: str, line: int, reason: str, raw: str) -> None:
        """A whole transaction set or message that could not be used, as one reject at its first segment.

        Its quantities are accounted by the caller.
        """
        self._blocks.append((record_type, line, reason, raw))

    def results(self) -> dict[str, ParseResult]:
        """Stock and sales results (each present, possibly empty), rows in the order they were first reported."""
        rejects: dict[str, list[tuple[int, str, str]]] = {"stock": [], "sales": []}
        for record_type, line, reason, raw in self._blocks:
            rejects["sales" if record_type not in rejects else record_type].append((line, reason, raw))
        columns, self._columns = self._columns, {name: array(kind) for name, kind in _COLUMNS.items()}
        rows = _Rows(self, columns, rejects)
        # The quantities went as they became rows; what only rows worked out one by one need goes now.
        for name in ("code", "text", "raw", "problems"):
            self._codes[name] = _Codes()
        self._codes["problems"](())
        return {
            record_type: result_from_columns(
                record_type,
                rows.columns(record_type),
                rejects[record_type],
                self.partner_id,
                self.source_file_id,
                constants=self.constants,
                default_currency=self.default_currency,
            )
            for record_type in RECORD_TYPES
        }

    def measures(
        self, quantities: list[_Quantity]
    ) -> tuple[dict[str, float], list[_Quantity], list[tuple[str, _Quantity]], list[str]]:
        """A row's value per measure, the quantities used, those left unused (with why) and any problems."""
        values: dict[str, float] = {}
        used: list[_Quantity] = []
        unused: list[tuple[str, _Quantity]] = []
        problems: list[str] = []
        by_measure: dict[str, list[_Quantity]] = {}
        for quantity in quantities:
            by_measure.setdefault(quantity.measure, []).append(quantity)
        for measure, measured in by_measure.items():
            preference = list(self.codes_by_measure.get(measure, ()))
            codes = sorted(
                {quantity.code for quantity in measured},
                key=lambda code: preference.index(code) if code in preference else len(preference),
            )
            winner = codes[0]
            chosen = [quantity for quantity in measured if quantity.code == winner]
            for quantity in measured:
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


class _Rows:
    """A file's quantities grouped into rows: a row is every quantity of one record type, store, item and period.

    Rows are numbered in the order they were first reported; ``order`` puts them in the order of their first
    segment. A row of one quantity with no problem (nearly every row of a large file) is taken as it is, column
    by column; any other is worked out quantity by quantity, as :meth:`MeasureRows.measures` says. What is kept
    per row is a few typed arrays (the quantities themselves are let go once the rows are known).
    """

    def __init__(
        self, owner: MeasureRows, columns: dict[str, array], rejects: dict[str, list[tuple[int, str, str]]]
    ) -> None:
        self.owner = owner
        codes = owner._codes
        # Each column of quantities goes as soon as what the rows need of it is taken (``columns`` is emptied).
        quantities = {name: _numpy(column) for name, column in columns.items()}
        columns.clear()
        kinds = np.array([RECORD_TYPES.index(MEASURES[name]) for name in codes["measure"].values] or [0], np.int8)
        kind = kinds[quantities["measure"]]
        row_of = _first_seen_groups([kind, quantities.pop("item"), quantities["location"], quantities["period"]])
        # Rows are numbered as first seen, so a quantity opens its row when its number exceeds all before it.
        opens = np.ones(len(row_of), dtype=bool)
        opens[1:] = row_of[1:] > np.maximum.accumulate(row_of)[:-1]
        first = np.flatnonzero(opens)
        del opens
        count = np.bincount(row_of, minlength=len(first))
        self.kind = kind[first]
        del kind
        has_store = np.array([bool(store) for store in codes["location"].values] or [False])
        self.simple = (count == 1) & (quantities["problems"][first] == 0) & has_store[quantities["location"][first]]
        self.simple &= ~np.isnan(quantities["value"][first])
        # The quantities of the rows to work out one by one (few, as a rule) are kept apart, in file order.
        members = np.flatnonzero(~self.simple[row_of])
        worked = {name: column[members] for name, column in quantities.items()}
        member_rows = row_of[members]
        del members, row_of
        self.line = quantities.pop("segment")[first]
        for name in ("location", "product", "period", "measure", "value"):
            setattr(self, name, quantities.pop(name)[first])
        self.uom = quantities.pop("uom")[first].astype(np.int32)
        interchanges = np.bincount(quantities.pop("interchange")[first[self.simple]])
        quantities.clear()
        del first, count
        for interchange in np.flatnonzero(interchanges).tolist():
            owner.tally(interchange, loaded=int(interchanges[interchange]))
        self.order = np.argsort(self.line, kind="stable")
        self.loaded = self.simple.copy()
        self.merged = self.simple.astype(np.int32)
        self.worked_out: dict[int, dict[str, float]] = {}  # a worked-out loaded row's value per measure
        others = self.order[~self.simple[self.order]]
        if len(others):
            by_row = np.argsort(member_rows, kind="stable")
            ordered_rows = member_rows[by_row]
            starts = np.searchsorted(ordered_rows, others, side="left").tolist()
            ends = np.searchsorted(ordered_rows, others, side="right").tolist()
            for row, start, end in zip(others.tolist(), starts, ends, strict=True):
                self._work_out(row, worked, by_row[start:end].tolist(), rejects)
        account = owner.account
        loaded = self.order[self.loaded[self.order]]
        account.loaded_elements += int(self.merged[loaded].sum())
        # What each loaded row adds to the loaded sum (``sum`` of its values: 0 + value), added in row order.
        account.loaded = float(np.cumsum(np.concatenate([[account.loaded], self.value[loaded] + 0.0]))[-1])

    def _work_out(
        self,
        row: int,
        quantities: dict[str, np.ndarray],
        members: list[int],
        rejects: dict[str, list[tuple[int, str, str]]],
    ) -> None:
        """One row of several quantities or with a problem: rejected with every reason, or loaded."""
        owner, codes = self.owner, self.owner._codes
        raw: list[str] = []
        problems: list[str] = []
        measured: list[_Quantity] = []
        for index in members:
            for text in codes["raw"].values[quantities["raw"][index]]:
                if text not in raw:
                    raw.append(text)
            for problem in codes["problems"].values[quantities["problems"][index]]:
                if problem not in problems:
                    problems.append(problem)
            no_store = "no store given for this quantity"
            if not codes["location"].values[quantities["location"][index]] and no_store not in problems:
                problems.append(no_store)
            value = float(quantities["value"][index])
            quantity = _Quantity(
                codes["measure"].values[quantities["measure"][index]],
                codes["code"].values[quantities["code"][index]],
                codes["text"].values[quantities["text"][index]],
                None if np.isnan(value) else value,
                int(quantities["segment"][index]),
                codes["uom"].values[quantities["uom"][index]],
                int(quantities["interchange"][index]),
            )
            if quantity.value is None:
                problems.append(f"bad quantity '{quantity.text}' for {quantity.code} at segment {quantity.segment}")
            measured.append(quantity)
        values, used, unused, more = owner.measures(measured)
        problems += more
        if problems:
            rejects[RECORD_TYPES[self.kind[row]]].append((int(self.line[row]), "; ".join(problems), "\n".join(raw)))
            owner.account.reject([quantity.value for quantity in measured])
            for quantity in measured:
                owner.tally(quantity.interchange, rejected=1)
            return
        self.loaded[row] = True
        self.merged[row] = len(used)
        self.value[row] = sum(quantity.value for quantity in used)
        self.worked_out[row] = values
        for quantity in used:
            owner.tally(quantity.interchange, loaded=1)
        for why, quantity in unused:
            owner.account.leave(why, quantity.value)
            owner.tally(quantity.interchange, unused=1)
        units = {quantity.uom for quantity in used if quantity.uom}
        self.uom[row] = codes["uom"].codes[units.pop()] if units else -1

    def columns(self, record_type: str) -> dict[str, np.ndarray]:
        """The loaded rows of one record type, in order, as canonical columns (the rest take their defaults)."""
        owner, codes = self.owner, self.owner._codes
        rows = self.order[self.loaded[self.order] & (self.kind[self.order] == RECORD_TYPES.index(record_type))]
        fallback = default_value("uom", owner.constants, owner.default_currency)
        units = np.empty(len(codes["uom"].values) + 1, dtype=object)  # the last stands for no unit (code -1)
        units[:] = [fallback if unit is None else unit for unit in [*codes["uom"].values, None]]
        columns = {
            "location_id": codes["location"].objects()[self.location[rows]],
            "product_ref": codes["item"].objects()[self.product[rows]],
            "source_line": self.line[rows].astype(np.int64),
            "merged_lines": self.merged[rows],
            "uom": units[self.uom[rows]],
        }
        simple, measure, value = self.simple[rows], self.measure[rows], self.value[rows]
        positions = np.flatnonzero(~simple)
        worked_out = [self.worked_out[row] for row in rows[positions].tolist()]
        worked_out = list(zip(positions.tolist(), worked_out, strict=True))
        for code, name in enumerate(codes["measure"].values):
            if MEASURES[name] != record_type:
                continue
            # A flow is the sum of its quantities (0 + value); a stock count is the count as reported.
            column = np.full(len(rows), np.nan)
            np.copyto(column, value, where=simple & (measure == code))
            if name not in STATE_MEASURES:
                column += 0.0
            for position, values in worked_out:
                column[position] = values.get(name, np.nan)
            columns[name] = column
        for name, kind in MEASURES.items():
            if kind == record_type and name not in columns:
                columns[name] = np.full(len(rows), np.nan)
        periods = codes["period"].values
        period = self.period[rows]
        ends = np.array([end for _, end in periods], dtype="datetime64[D]").astype("datetime64[s]")[period]
        if record_type == "stock":
            columns["as_of_date"] = ends
        else:
            starts = np.array([start for start, _ in periods], dtype="datetime64[D]").astype("datetime64[s]")
            columns["period_start"] = starts[period]
            columns["period_end"] = ends
        return columns


def _numpy(column: array) -> np.ndarray:
    """A typed array as a NumPy array over the same memory."""
    return np.frombuffer(column, dtype=column.typecode) if len(column) else np.zeros(0, dtype=column.typecode)


def _first_seen_groups(keys: list[np.ndarray]) -> np.ndarray:
    """Group number of each position by the tuple of its codes in ``keys``, groups numbered as first seen.

    The codes are packed into one integer per position while they fit in 62 bits (always, in practice), and the
    packed keys numbered by first appearance; past that, the groups so far are numbered and packing starts again.
    """
    group = np.zeros(len(keys[0]), dtype=np.int64)
    span = 1  # every packed key is below this
    for key in keys:
        width = int(key.max()) + 1 if len(key) else 1
        if span * width >= 1 << 62:
            group = pd.factorize(group)[0].astype(np.int64, copy=False)
            span = int(group.max()) + 1 if len(group) else 1
        group *= width
        group += key
        span *= width
    return pd.factorize(group)[0].astype(np.int64, copy=False)
