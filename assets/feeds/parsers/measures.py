"""Canonical stock and sales rows assembled from the quantities an EDI message reports (X12 852/846, EANCOM)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from assets.feeds.parsers.results import ParseResult, result_from_records
from assets.feeds.partner_config import MEASURES


@dataclass
class _MeasureRow:
    record_type: str
    location_id: str | None
    product_ref: str | None
    period: tuple[date, date]
    line: int
    measures: dict[str, tuple[float, int, str]] = field(default_factory=dict)  # measure -> (value, segment, code)
    uom: str | None = None
    problems: list[str] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)


class MeasureRows:
    """Canonical stock and sales rows assembled from EDI measures, one row per record type, store, item and period.

    X12 and EDIFACT report a quantity per activity or quantity code (an 852 ``ZA*QS`` spread by ``SDQ``, an 846
    ``QTY*33``, an EANCOM ``QTY+145``); each code maps to a canonical measure, and the measures of one store, item
    and period make one row. Problems found on the way (a bad GTIN, no store, a quantity that is not a number, the
    same measure twice) reject the whole row with every reason, never part of it. EDI reports leave out zero
    activity, so a sales row without a sold quantity sold nothing; a stock row without an on-hand count is rejected.
    """

    def __init__(
        self,
        partner_id: str,
        source_file_id: str,
        codes_by_measure: Mapping[str, Sequence[str]],
        *,
        constants: Mapping[str, object] | None = None,
        default_currency: str | None = None,
    ) -> None:
        self.partner_id = partner_id
        self.source_file_id = source_file_id
        self.codes_by_measure = codes_by_measure
        self.constants = dict(constants or {})
        self.default_currency = default_currency
        self._rows: dict[tuple, _MeasureRow] = {}

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
    ) -> None:
        """One reported quantity (text as sent, decimal point '.') of ``measure`` for a store, item and period."""
        record_type = MEASURES[measure]
        location_id = location_id or self.constants.get("location_id")
        key_period = period if record_type == "sales" else (period[1], period[1])
        key = (record_type, location_id, product_ref, key_period)
        row = self._rows.get(key)
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
        if uom and row.uom is None:
            row.uom = uom
        try:
            value = float(quantity)
            if not np.isfinite(value):
                raise ValueError(quantity)
        except ValueError:
            row.problems.append(f"bad quantity '{quantity}' for {code} at segment {segment}")
            return
        if measure in row.measures:
            _, first_segment, first_code = row.measures[measure]
            row.problems.append(
                f"{measure} reported twice for this item and store ({first_code} at segment {first_segment}, "
                f"{code} at segment {segment})"
            )
            return
        row.measures[measure] = (value, segment, code)

    def results(self) -> dict[str, ParseResult]:
        """Stock and sales results (each present, possibly empty), rows in the order they were first reported."""
        records: dict[str, list[dict]] = {"stock": [], "sales": []}
        rejects: dict[str, list[tuple[int, str, str]]] = {"stock": [], "sales": []}
        for row in sorted(self._rows.values(), key=lambda item: item.line):
            problems = list(row.problems)
            if row.record_type == "stock" and "on_hand_qty" not in row.measures and not problems:
                codes = "/".join(self.codes_by_measure.get("on_hand_qty", ())) or "none mapped"
                problems.append(f"no on-hand quantity ({codes}) reported for this item and store")
            if problems:
                rejects[row.record_type].append((row.line, "; ".join(problems), "\n".join(row.raw)))
                continue
            values = {measure: value for measure, (value, _, _) in row.measures.items()}
            record: dict[str, object] = {
                "location_id": row.location_id,
                "product_ref": row.product_ref,
                "source_line": row.line,
                **values,
            }
            if row.record_type == "stock":
                record["as_of_date"] = row.period[1]
                if row.uom:
                    record["uom"] = row.uom
            else:
                record["period_start"], record["period_end"] = row.period
                record.setdefault("units_sold", 0.0)
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
