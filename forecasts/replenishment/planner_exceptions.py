"""Planner exceptions: the plan lines a planner should look at, one row per line and kind of problem.

Kinds (``exception_type``) and their severity:

- ``stockout_within_lead_time`` (critical): on-hand runs out before anything shipped now can be received;
- ``excess_stock`` (warning): the position after the shipment covers more than ``excess_cover_factor`` × the
  agreed maximum cover; otherwise ``above_max_cover`` (info) when it covers more than the maximum — both
  counted on the ship date, and often forced by an MOQ or case pack on a slow mover;
- ``obsolete_stock`` (warning): stock on hand with no demand expected;
- ``stale_feed`` (warning): the stock count is older than ``stale_feed_days``;
- ``data_held`` (warning): the partner's data failed its blocking checks, so nothing is planned;
- ``allocation_shortfall`` (warning): our own stock could not cover the line;
- ``forecast_bias`` (warning): the caller's measured bias ``Σ(ŷ − y) / Σy`` for the series or the partner is
  beyond ``± forecast_bias_tolerance``;
- ``large_change`` (info): the quantity to ship moved by at least ``change_relative`` of the larger of the two
  quantities and at least ``change_min_cases`` case packs since the previous plan, for the same ship date;
- ``cadence_changed`` (info): the line's ship days (its location's cheapest cadence) are not the previous
  plan's, so the store sees the truck on other days (both plans must carry ``ship_days``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasts.replenishment.policy import (
    DEFAULT_STALE_AFTER_DAYS,
    HELD_DATA_FAILED_CHECKS,
    HELD_STALE_FEED,
    KEY_COLUMNS,
)
from forecasts.replenishment.ship_days import parse_ship_days

STOCKOUT_WITHIN_LEAD_TIME = "stockout_within_lead_time"
ABOVE_MAX_COVER = "above_max_cover"
EXCESS_STOCK = "excess_stock"
OBSOLETE_STOCK = "obsolete_stock"
STALE_FEED = "stale_feed"
DATA_HELD = "data_held"
ALLOCATION_SHORTFALL = "allocation_shortfall"
FORECAST_BIAS = "forecast_bias"
LARGE_CHANGE = "large_change"
CADENCE_CHANGED = "cadence_changed"

CRITICAL, WARNING, INFO = "critical", "warning", "info"
SEVERITY_RANK = {CRITICAL: 0, WARNING: 1, INFO: 2}

PLANNER_EXCEPTION_COLUMNS = ["plan_date", *KEY_COLUMNS, "exception_type", "severity", "detail"]
PLAN_COLUMNS_USED = [
    *KEY_COLUMNS,
    "plan_date",
    "on_hand",
    "inventory_position",
    "demand_daily_mean",
    "lead_time_days",
    "max_cover_days",
    "ship_date",
    "days_to_ship",
    "expected_receipt_date",
    "ship_qty",
    "allocated_qty",
    "allocation_shortfall",
    "case_pack",
    "days_of_cover",
    "projected_stockout_date",
    "stockout_within_lead_time",
    "observation_age_days",
    "reason_code",
]
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class PlannerExceptionThresholds:
    """When a plan line becomes an exception; see the module docstring."""

    stale_feed_days: float = DEFAULT_STALE_AFTER_DAYS
    forecast_bias_tolerance: float = 0.2
    excess_cover_factor: float = 2.0
    change_relative: float = 0.5
    change_min_cases: float = 1.0


def _date(value: object) -> str:
    return "unknown" if pd.isna(value) else pd.Timestamp(value).date().isoformat()


def _units(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _rows(
    plan: pd.DataFrame, flagged: np.ndarray, kind: str, severity: str, describe: Callable[[int], str]
) -> pd.DataFrame:
    """One exception per flagged row; ``describe`` writes the detail from the row's position."""
    positions = np.flatnonzero(flagged)
    rows = plan.iloc[positions][["plan_date", *KEY_COLUMNS]].reset_index(drop=True)
    return rows.assign(exception_type=kind, severity=severity, detail=[describe(i) for i in positions])


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({column: pd.Series(dtype=object) for column in PLANNER_EXCEPTION_COLUMNS})
    return frame.assign(plan_date=pd.Series(dtype="datetime64[us]"))


def _stockouts(plan: pd.DataFrame) -> pd.DataFrame:
    flagged = plan["stockout_within_lead_time"].fillna(False).to_numpy(dtype=bool)
    on_hand, cover = plan["on_hand"].to_numpy(dtype=float), plan["days_of_cover"].to_numpy(dtype=float)
    stockout, ship = plan["projected_stockout_date"].to_numpy(), plan["ship_date"].to_numpy()
    receipt = plan["expected_receipt_date"].to_numpy()
    return _rows(
        plan,
        flagged,
        STOCKOUT_WITHIN_LEAD_TIME,
        CRITICAL,
        lambda i: (
            f"on hand {_units(on_hand[i])} covers {cover[i]:.1f} days (stock-out {_date(stockout[i])}); "
            f"a shipment on {_date(ship[i])} is received {_date(receipt[i])}"
        ),
    )


def _cover(plan: pd.DataFrame, thresholds: PlannerExceptionThresholds) -> pd.DataFrame:
    demand = plan["demand_daily_mean"].to_numpy(dtype=float)
    max_cover = plan["max_cover_days"].to_numpy(dtype=float)
    waiting = plan["days_to_ship"].to_numpy(dtype=float) - 1
    shipped = plan["allocated_qty"].to_numpy(dtype=float)
    position_on_ship_date = plan["inventory_position"].to_numpy(dtype=float) + shipped - demand * waiting
    has_demand = demand > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(has_demand, position_on_ship_date / demand, np.nan)
    bounded = has_demand & ~np.isnan(max_cover)
    excess = bounded & (cover > thresholds.excess_cover_factor * max_cover + _TOLERANCE)
    above = bounded & ~excess & (cover > max_cover + _TOLERANCE)
    on_hand = plan["on_hand"].to_numpy(dtype=float)
    obsolete = ~has_demand & (on_hand > 0)

    def describe(i: int) -> str:
        shipment = f"; includes a shipment of {_units(shipped[i])} (MOQ / case pack)" if shipped[i] > 0 else ""
        return f"{cover[i]:.1f} days of cover on the ship date, agreed max {max_cover[i]:g}{shipment}"

    return pd.concat(
        [
            _rows(plan, excess, EXCESS_STOCK, WARNING, describe),
            _rows(plan, above, ABOVE_MAX_COVER, INFO, describe),
            _rows(
                plan,
                obsolete,
                OBSOLETE_STOCK,
                WARNING,
                lambda i: f"{_units(on_hand[i])} on hand and no demand expected",
            ),
        ]
    )


def _stale_held_and_short(plan: pd.DataFrame, thresholds: PlannerExceptionThresholds) -> pd.DataFrame:
    age = plan["observation_age_days"].fillna(0).to_numpy(dtype=float)
    reasons = plan["reason_code"].to_numpy(dtype=object)
    shortfall = plan["allocation_shortfall"].fillna(False).to_numpy(dtype=bool)
    allocated, required = plan["allocated_qty"].to_numpy(dtype=float), plan["ship_qty"].to_numpy(dtype=float)
    return pd.concat(
        [
            _rows(
                plan,
                age > thresholds.stale_feed_days,
                STALE_FEED,
                WARNING,
                lambda i: (
                    f"stock last counted {age[i]:g} days before the plan date "
                    f"(limit {thresholds.stale_feed_days:g})" + ("; line held" if reasons[i] == HELD_STALE_FEED else "")
                ),
            ),
            _rows(
                plan,
                reasons == HELD_DATA_FAILED_CHECKS,
                DATA_HELD,
                WARNING,
                lambda i: "partner data failed its blocking quality checks; nothing planned",
            ),
            _rows(
                plan,
                shortfall,
                ALLOCATION_SHORTFALL,
                WARNING,
                lambda i: f"allocated {_units(allocated[i])} of {_units(required[i])}: our stock is short",
            ),
        ]
    )


def _bias(plan: pd.DataFrame, forecast_bias: pd.DataFrame, thresholds: PlannerExceptionThresholds) -> pd.DataFrame:
    if "bias" not in forecast_bias.columns or "partner_id" not in forecast_bias.columns:
        raise ValueError("forecast_bias needs a partner_id and a bias column")
    keys = [key for key in KEY_COLUMNS if key in forecast_bias.columns]
    if keys not in (["partner_id"], KEY_COLUMNS):
        raise ValueError("forecast_bias must be keyed by partner_id, or by partner_id, location_id and product_id")
    measured = forecast_bias[[*keys, "bias"]].merge(plan[keys].drop_duplicates(), on=keys)
    measured = measured.assign(plan_date=plan["plan_date"].iloc[0])
    for key in KEY_COLUMNS:
        if key not in measured.columns:
            measured[key] = None
    bias = pd.to_numeric(measured["bias"]).to_numpy(dtype=float)
    beyond = ~np.isnan(bias) & (np.abs(bias) > thresholds.forecast_bias_tolerance + _TOLERANCE)
    scope = "partner" if keys == ["partner_id"] else "series"
    return _rows(
        measured,
        beyond,
        FORECAST_BIAS,
        WARNING,
        lambda i: f"{scope} forecast bias {bias[i]:+.0%} (tolerance ±{thresholds.forecast_bias_tolerance:.0%})",
    )


def _changes(plan: pd.DataFrame, previous_plan: pd.DataFrame, thresholds: PlannerExceptionThresholds) -> pd.DataFrame:
    missing = [column for column in [*KEY_COLUMNS, "ship_qty"] if column not in previous_plan.columns]
    if missing:
        raise ValueError(f"previous_plan is missing columns: {', '.join(missing)}")
    quantity = "allocated_qty" if "allocated_qty" in previous_plan.columns else "ship_qty"
    earlier = previous_plan[KEY_COLUMNS].assign(previous_qty=pd.to_numeric(previous_plan[quantity]).to_numpy(float))
    same_shipment = "ship_date" in previous_plan.columns
    if same_shipment:
        earlier["previous_ship_date"] = pd.to_datetime(previous_plan["ship_date"]).to_numpy()
    compared = plan.reset_index(drop=True).merge(earlier.drop_duplicates(KEY_COLUMNS), on=KEY_COLUMNS)
    now = compared["allocated_qty"].to_numpy(dtype=float)
    before = compared["previous_qty"].to_numpy(dtype=float)
    change, larger = np.abs(now - before), np.maximum(now, before)
    flagged = (
        (larger > 0)
        & (change >= thresholds.change_relative * larger - _TOLERANCE)
        & (change >= thresholds.change_min_cases * compared["case_pack"].to_numpy(dtype=float) - _TOLERANCE)
    )
    if same_shipment:
        flagged &= pd.to_datetime(compared["ship_date"]).to_numpy() == compared["previous_ship_date"].to_numpy()
    ship_dates = compared["ship_date"].to_numpy()
    return _rows(
        compared,
        flagged,
        LARGE_CHANGE,
        INFO,
        lambda i: f"ship {_units(now[i])} on {_date(ship_dates[i])}, previous plan {_units(before[i])}",
    )


def _cadence_changes(plan: pd.DataFrame, previous_plan: pd.DataFrame) -> pd.DataFrame:
    if "ship_days" not in plan.columns or "ship_days" not in previous_plan.columns:
        return _empty()
    earlier = previous_plan[[*KEY_COLUMNS, "ship_days"]].rename(columns={"ship_days": "previous_ship_days"})
    compared = plan.reset_index(drop=True).merge(earlier.drop_duplicates(KEY_COLUMNS), on=KEY_COLUMNS)
    now, before = compared["ship_days"].tolist(), compared["previous_ship_days"].tolist()
    flagged = np.array(
        [
            isinstance(old, str) and isinstance(new, str) and parse_ship_days(new) != parse_ship_days(old)
            for new, old in zip(now, before, strict=True)
        ],
        dtype=bool,
    )
    return _rows(
        compared,
        flagged,
        CADENCE_CHANGED,
        INFO,
        lambda i: (
            f"ships {now[i]} from now on, the previous plan {before[i]}: the cheapest cadence of the location "
            "moved with its forecast"
        ),
    )


def find_planner_exceptions(
    plan: pd.DataFrame,
    previous_plan: pd.DataFrame | None = None,
    forecast_bias: pd.DataFrame | None = None,
    thresholds: PlannerExceptionThresholds | Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """List the exceptions of a plan from ``plan_replenishment`` (after any allocation).

    ``previous_plan`` is the previous night's plan (keys and ``ship_qty``, ideally ``allocated_qty`` and
    ``ship_date``); without it no ``large_change`` is reported. ``forecast_bias`` has ``partner_id`` (and
    ``location_id``, ``product_id`` for a per-series measure) and ``bias`` = Σ(ŷ − y)/Σy; a partner-level
    exception has no location or product. ``thresholds`` is an ``PlannerExceptionThresholds`` or a mapping of its
    fields. Returns ``PLANNER_EXCEPTION_COLUMNS``, ordered by partner, location, product, severity and type, so the
    same inputs always give the same frame.
    """
    if thresholds is None:
        thresholds = PlannerExceptionThresholds()
    elif isinstance(thresholds, Mapping):
        thresholds = PlannerExceptionThresholds(**thresholds)
    missing = [column for column in PLAN_COLUMNS_USED if column not in plan.columns]
    if missing:
        raise ValueError(f"plan is missing columns: {', '.join(missing)}")

    found = [_stockouts(plan), _cover(plan, thresholds), _stale_held_and_short(plan, thresholds)]
    if forecast_bias is not None and not plan.empty:
        found.append(_bias(plan, forecast_bias, thresholds))
    if previous_plan is not None and not previous_plan.empty:
        found.append(_changes(plan, previous_plan, thresholds))
        found.append(_cadence_changes(plan, previous_plan))
    found = [frame for frame in found if not frame.empty]
    if not found:
        return _empty()
    exceptions = pd.concat(found, ignore_index=True)
    exceptions["_rank"] = exceptions["severity"].map(SEVERITY_RANK)
    exceptions = exceptions.sort_values(
        [*KEY_COLUMNS, "_rank", "exception_type"], kind="stable", na_position="first", ignore_index=True
    )
    return exceptions[PLANNER_EXCEPTION_COLUMNS]
