"""The invariants of what a night produces: the plan, the forecast, the data gate and the partner exports.

Plain functions over frames (no Dagster, no warehouse): each returns the rule it judged and the rows that break it,
so the asset checks in `assets/` only read, call and report, and the rules are tested without a run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

# Quantities are floats in the warehouse; a case-pack multiple may be off by rounding noise, never by more.
TOLERANCE = 1e-6
PLAN_KEY = ["partner_id", "location_id", "product_id"]
GATE_STATUSES = ("pass", "warn", "held")


@dataclass(frozen=True)
class RuleResult:
    """One rule over one table: did it hold, and the rows (or a note) that break it."""

    rule: str
    description: str
    offending: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def passed(self) -> bool:
        return self.offending.empty

    @property
    def failures(self) -> int:
        return len(self.offending)


def _rule(rule: str, description: str, frame: pd.DataFrame, broken: pd.Series | np.ndarray) -> RuleResult:
    return RuleResult(rule, description, frame.loc[np.asarray(broken, dtype=bool)].reset_index(drop=True))


def _duplicates(frame: pd.DataFrame, key: Sequence[str]) -> pd.Series:
    return frame.duplicated(list(key), keep=False)


def plan_rules(plan: pd.DataFrame) -> list[RuleResult]:
    """The plan of one night: quantities are never negative, nothing ships beyond the need, one row per partner
    location x product, and every quantity that ships is whole case packs and at least the MOQ."""
    allocated = plan["allocated_qty"].fillna(plan["ship_qty"])
    quantities = ["ship_qty", "allocated_qty", "safety_stock", "reorder_point", "order_up_to"]
    negative = pd.Series(False, index=plan.index)
    for column in quantities:
        negative |= plan[column].fillna(0) < -TOLERANCE
    pack = plan["case_pack"].where(plan["case_pack"] > 0, 1.0).fillna(1.0)
    moq = plan["moq"].fillna(0)

    def not_packed(qty: pd.Series) -> pd.Series:
        cases = qty / pack
        off_pack = (cases - cases.round()).abs() > TOLERANCE
        return (qty > TOLERANCE) & (off_pack | (qty < moq - TOLERANCE))

    return [
        _rule(
            "allocated_within_need",
            "allocated_qty (what ships) never exceeds ship_qty (what the policy needs)",
            plan,
            allocated > plan["ship_qty"] + TOLERANCE,
        ),
        _rule("no_negative_quantities", f"{', '.join(quantities)} are never negative", plan, negative),
        _rule(
            "one_row_per_location_product",
            "one plan row per partner, location and product",
            plan,
            _duplicates(plan, PLAN_KEY),
        ),
        _rule(
            "whole_case_packs_and_moq",
            "every quantity that ships (ship_qty, allocated_qty) is whole case packs and at least the MOQ",
            plan,
            not_packed(plan["ship_qty"]) | not_packed(allocated),
        ),
    ]


def forecast_rules(forecast: pd.DataFrame, as_of_date: date, horizon_days: int) -> list[RuleResult]:
    """The forecast of one night: 0 <= p50 <= p90 on every row, and every series covers each of the next
    ``horizon_days`` days exactly once."""
    bad_quantiles = (forecast["p50"] < -TOLERANCE) | (forecast["p90"] < forecast["p50"] - TOLERANCE)
    bad_quantiles |= forecast["p50"].isna() | forecast["p90"].isna()
    expected = {as_of_date + timedelta(days=offset) for offset in range(1, horizon_days + 1)}
    incomplete = []
    for series_id, rows in forecast.groupby("series_id", sort=True):
        dates = pd.to_datetime(rows["forecast_date"]).dt.date
        missing = expected - set(dates)
        if missing or dates.duplicated().any() or not set(dates) <= expected:
            incomplete.append(
                {
                    "series_id": series_id,
                    "days": len(rows),
                    "missing_days": len(missing),
                    "first_missing": min(missing) if missing else None,
                }
            )
    return [
        _rule("quantiles_ordered", "0 <= p50 <= p90 on every forecast row", forecast, bad_quantiles),
        RuleResult(
            "horizon_complete",
            f"every series has one forecast for each of the {horizon_days} days after the business date",
            pd.DataFrame(incomplete),
        ),
    ]


def gate_rules(gate: pd.DataFrame, partners_checked: Sequence[str]) -> list[RuleResult]:
    """The data gate of one night: one row per partner that was checked, each with a known status."""
    missing = sorted(set(partners_checked) - set(gate["partner_id"]))
    unknown_status = ~gate["status"].isin(GATE_STATUSES)
    return [
        _rule("one_row_per_partner", "one gate row per partner", gate, _duplicates(gate, ["partner_id"])),
        RuleResult(
            "every_checked_partner_gated",
            "every partner whose data was checked has a gate row",
            pd.DataFrame({"partner_id": missing}),
        ),
        _rule("known_status", f"status is one of {', '.join(GATE_STATUSES)}", gate, unknown_status),
    ]


def export_rules(plan: pd.DataFrame, exported: Mapping[str, Sequence[Mapping]]) -> list[RuleResult]:
    """The partner exports of one night against the plan they were written from.

    ``exported`` maps each partner folder to the rows of its plan file. Every partner with plan rows has a file
    with as many rows as it has plan rows, and a file holds no row of another partner (a row naming a partner, or
    a location of another partner's plan, is a leak).
    """
    plan_rows = plan.groupby("partner_id").size().to_dict() if not plan.empty else {}
    locations = plan.groupby("partner_id")["location_id"].agg(lambda s: set(map(str, s))).to_dict()
    counts = []
    for partner in sorted(set(plan_rows) | set(exported)):
        rows = exported.get(partner)
        if rows is None or len(rows) != plan_rows.get(partner, 0):
            counts.append(
                {
                    "partner_id": partner,
                    "plan_rows": plan_rows.get(partner, 0),
                    "exported_rows": None if rows is None else len(rows),
                }
            )
    leaks = []
    for partner, rows in sorted(exported.items()):
        own = locations.get(partner, set())
        for number, row in enumerate(rows, start=1):
            named = row.get("partner_id")
            location = row.get("location_id")
            if (named is not None and str(named) != partner) or (location is not None and str(location) not in own):
                leaks.append({"file_partner": partner, "row": number, "partner_id": named, "location_id": location})
    return [
        RuleResult(
            "one_file_per_partner_with_its_plan_rows",
            "every partner with plan rows has an export file holding exactly that many rows",
            pd.DataFrame(counts),
        ),
        RuleResult("only_that_partners_rows", "no export file holds another partner's rows", pd.DataFrame(leaks)),
    ]


def describe_failures(results: Sequence[RuleResult]) -> str:
    """One line: the rules that failed with how many rows break each, or that all held."""
    failed = [f"{result.rule}: {result.failures} row(s)" for result in results if not result.passed]
    return "; ".join(failed) if failed else f"all {len(results)} rules hold"
