"""Replenishment policy: what to ship to each partner location × product on a plan date, and why.

A periodic-review order-up-to policy with a reorder point, vectorised over one row per location × product:

- inventory position ``IP = on_hand + on_order + in_transit − committed``;
- safety stock ``SS = z(service_level) · sqrt(L·σ_d² + d̄²·σ_L²)``, covering demand and lead-time variability;
- reorder point ``ROP = d̄·L + SS`` and order-up-to level ``S = d̄·(L + R) + SS``, the latter clipped to the
  agreed ``[d̄·min_cover_days, d̄·max_cover_days]``;
- ship ``S − IP`` when ``IP ≤ ROP``, rounded up to whole case packs and at least the MOQ; nothing otherwise.

When the supplier's own stock cannot cover every line, ``allocate_fairly`` cuts the plan back case by case.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Mapping
from datetime import date

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

BELOW_REORDER_POINT = "below_reorder_point"
NO_ACTION = "no_action"
NO_DEMAND = "no_demand"
ALLOCATION_SHORTFALL = "allocation_shortfall"
REASON_CODES = (BELOW_REORDER_POINT, NO_ACTION, NO_DEMAND, ALLOCATION_SHORTFALL)

KEY_COLUMNS = ["partner_id", "location_id", "product_id"]
INPUT_COLUMNS = [
    *KEY_COLUMNS,
    "on_hand",
    "on_order",
    "in_transit",
    "committed",
    "demand_daily_mean",
    "demand_daily_std",
    "lead_time_days",
    "lead_time_std_days",
    "review_period_days",
    "service_level",
    "min_cover_days",
    "max_cover_days",
    "case_pack",
    "moq",
]
# Without these a row cannot be planned; the other inputs have a neutral default when missing.
VALUE_REQUIRED_COLUMNS = [
    "on_hand",
    "demand_daily_mean",
    "demand_daily_std",
    "lead_time_days",
    "review_period_days",
    "service_level",
]
PLAN_COLUMNS = [
    *KEY_COLUMNS,
    "plan_date",
    "on_hand",
    "inventory_position",
    "demand_daily_mean",
    "demand_daily_std",
    "service_level",
    "lead_time_days",
    "lead_time_std_days",
    "review_period_days",
    "lead_time_demand",
    "safety_stock",
    "reorder_point",
    "order_up_to",
    "ship_qty",
    "case_pack",
    "moq",
    "days_of_cover",
    "days_of_cover_after",
    "projected_stockout_date",
    "stockout_within_lead_time",
    "reason_code",
]

# A stock-out projected further out than this is no planning signal, and the date would overflow.
STOCKOUT_PROJECTION_LIMIT_DAYS = 3660
Z_90 = float(stats.norm.ppf(0.9))
# Quantities are floats; without a tolerance 3 cases computed as 3.0000000001 would round up to 4.
_ROUNDING_TOLERANCE = 1e-9


def demand_std_from_quantiles(p50: ArrayLike, p90: ArrayLike) -> np.ndarray:
    """Daily demand standard deviation implied by a forecast's p50 and p90, ``(p90 − p50) / z(0.9)``."""
    return np.clip((np.asarray(p90, dtype=float) - np.asarray(p50, dtype=float)) / Z_90, 0.0, None)


def round_ship_qty(raw_qty: ArrayLike, case_pack: ArrayLike, moq: ArrayLike) -> np.ndarray:
    """Round quantities to ship up to whole case packs and at least the MOQ (itself rounded up to case packs).

    Zero or negative quantities mean nothing to ship and give 0, and so does a float residue below a billionth
    of a case; the MOQ only applies to a real shipment.
    """
    raw = np.asarray(raw_qty, dtype=float)
    pack = np.asarray(case_pack, dtype=float)
    minimum = np.asarray(moq, dtype=float)
    cases = np.ceil(raw / pack - _ROUNDING_TOLERANCE)
    moq_cases = np.ceil(minimum / pack - _ROUNDING_TOLERANCE)
    return np.where(cases > 0, np.maximum(cases, moq_cases) * pack, 0.0)


def _validated_inputs(inputs: pd.DataFrame) -> dict[str, np.ndarray]:
    missing = [column for column in INPUT_COLUMNS if column not in inputs.columns]
    if missing:
        raise ValueError(f"replenishment inputs are missing columns: {', '.join(missing)}")
    values = {column: pd.to_numeric(inputs[column]).to_numpy(dtype=float) for column in INPUT_COLUMNS[3:]}
    without_value = [column for column in VALUE_REQUIRED_COLUMNS if np.isnan(values[column]).any()]
    if without_value:
        raise ValueError(f"replenishment inputs have missing values in: {', '.join(without_value)}")

    for column in ("on_order", "in_transit", "committed", "lead_time_std_days", "moq"):
        values[column] = np.nan_to_num(values[column], nan=0.0)
    values["case_pack"] = np.nan_to_num(values["case_pack"], nan=1.0)

    problems = []
    for column in ("demand_daily_mean", "demand_daily_std", "lead_time_days", "lead_time_std_days"):
        if (values[column] < 0).any():
            problems.append(f"{column} is negative")
    if (values["review_period_days"] < 0).any():
        problems.append("review_period_days is negative")
    if ((values["service_level"] <= 0) | (values["service_level"] >= 1)).any():
        problems.append("service_level is not strictly between 0 and 1")
    if (values["case_pack"] <= 0).any():
        problems.append("case_pack is not positive")
    if (values["moq"] < 0).any():
        problems.append("moq is negative")
    if (values["min_cover_days"] > values["max_cover_days"]).any():
        problems.append("min_cover_days exceeds max_cover_days")
    if problems:
        raise ValueError(f"invalid replenishment inputs: {'; '.join(problems)}")
    return values


def plan_replenishment(inputs: pd.DataFrame, plan_date: date) -> pd.DataFrame:
    """Plan one row per partner location × product (columns ``INPUT_COLUMNS``) as of ``plan_date``.

    Missing values default to nothing outstanding (``on_order``, ``in_transit``, ``committed``), no lead-time
    spread, no MOQ, single-unit case packs, and no cover bound (``min_cover_days``, ``max_cover_days``).
    Returns ``PLAN_COLUMNS`` on the input's index. Days of cover are infinite and the projected stock-out
    date is NaT when there is no demand; a stock-out more than ``STOCKOUT_PROJECTION_LIMIT_DAYS`` away is NaT
    too. ``reason_code`` is ``below_reorder_point`` when the row ships, ``no_demand`` when d̄ = 0 and it does
    not, and ``no_action`` otherwise — which includes a position at or below the reorder point whose
    order-up-to level, capped by ``max_cover_days``, is already reached.
    """
    values = _validated_inputs(inputs)
    demand, lead_time = values["demand_daily_mean"], values["lead_time_days"]

    inventory_position = values["on_hand"] + values["on_order"] + values["in_transit"] - values["committed"]
    z = stats.norm.ppf(values["service_level"])
    safety_stock = z * np.sqrt(
        lead_time * values["demand_daily_std"] ** 2 + demand**2 * values["lead_time_std_days"] ** 2
    )
    lead_time_demand = demand * lead_time
    reorder_point = lead_time_demand + safety_stock
    lower = np.where(np.isnan(values["min_cover_days"]), -np.inf, demand * values["min_cover_days"])
    upper = np.where(np.isnan(values["max_cover_days"]), np.inf, demand * values["max_cover_days"])
    order_up_to = np.clip(demand * (lead_time + values["review_period_days"]) + safety_stock, lower, upper)

    raw_qty = np.where(inventory_position <= reorder_point, order_up_to - inventory_position, 0.0)
    ship_qty = round_ship_qty(raw_qty, values["case_pack"], values["moq"])

    has_demand = demand > 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        days_of_cover = np.where(has_demand, values["on_hand"] / demand, np.inf)
        days_of_cover_after = np.where(has_demand, (inventory_position + ship_qty) / demand, np.inf)
    days_to_stockout = np.clip(np.floor(days_of_cover), 0, None)
    projected = days_to_stockout <= STOCKOUT_PROJECTION_LIMIT_DAYS
    stockout_offsets = np.where(projected, days_to_stockout, 0).astype("int64")
    stockout_dates = np.datetime64(plan_date, "D") + stockout_offsets.astype("timedelta64[D]")
    projected_stockout_date = pd.Series(
        np.where(projected, stockout_dates, np.datetime64("NaT")), index=inputs.index
    ).astype("datetime64[us]")

    reason_code = np.select([ship_qty > 0, ~has_demand], [BELOW_REORDER_POINT, NO_DEMAND], default=NO_ACTION)
    plan = pd.DataFrame(
        {
            **{column: inputs[column] for column in KEY_COLUMNS},
            "plan_date": pd.Timestamp(plan_date).as_unit("us"),
            "on_hand": values["on_hand"],
            "inventory_position": inventory_position,
            "demand_daily_mean": demand,
            "demand_daily_std": values["demand_daily_std"],
            "service_level": values["service_level"],
            "lead_time_days": lead_time,
            "lead_time_std_days": values["lead_time_std_days"],
            "review_period_days": values["review_period_days"],
            "lead_time_demand": lead_time_demand,
            "safety_stock": safety_stock,
            "reorder_point": reorder_point,
            "order_up_to": order_up_to,
            "ship_qty": ship_qty,
            "case_pack": values["case_pack"],
            "moq": values["moq"],
            "days_of_cover": days_of_cover,
            "days_of_cover_after": days_of_cover_after,
            "projected_stockout_date": projected_stockout_date,
            "stockout_within_lead_time": has_demand & (days_of_cover < lead_time),
            "reason_code": reason_code,
        },
        index=inputs.index,
    )
    return plan[PLAN_COLUMNS]


def _allocate_product(
    inventory_position: np.ndarray,
    demand: np.ndarray,
    ship_qty: np.ndarray,
    case_pack: np.ndarray,
    moq: np.ndarray,
    available: float,
) -> np.ndarray:
    """Hand out ``available`` units one block at a time to the row with the lowest cover so far.

    A row's first block is its MOQ in whole case packs (at least one case), later blocks one case each, so
    every allocation is a valid shipment. Ties go to the earlier row. A row whose next block does not fit
    drops out: its blocks never shrink and the remaining stock only does.
    """
    allocated = np.zeros_like(ship_qty)
    first_block = np.maximum(np.ceil(moq / case_pack - _ROUNDING_TOLERANCE), 1.0) * case_pack
    remaining = available

    def cover(row: int) -> float:
        return (inventory_position[row] + allocated[row]) / demand[row] if demand[row] > 0 else np.inf

    queue = [(cover(row), row) for row in np.flatnonzero(ship_qty > 0)]
    heapq.heapify(queue)
    while queue:
        _, row = heapq.heappop(queue)
        block = min(first_block[row] if allocated[row] == 0 else case_pack[row], ship_qty[row] - allocated[row])
        if block > remaining + _ROUNDING_TOLERANCE:
            continue
        allocated[row] += block
        remaining -= block
        if allocated[row] < ship_qty[row] - _ROUNDING_TOLERANCE:
            heapq.heappush(queue, (cover(row), row))
    return allocated


def allocate_fairly(plan: pd.DataFrame, available: Mapping[Hashable, float]) -> pd.DataFrame:
    """Cut a plan back to the supplier's available stock per product.

    For each product in ``available`` whose planned ``ship_qty`` exceeds it, units go out in blocks (the MOQ
    first, then single case packs) to whichever row has the lowest days of cover counting what it has been
    allocated so far, so the locations closest to a stock-out are served first and the shortage is shared.
    Products not in ``available`` are not constrained. Adds ``allocated_qty`` and ``allocation_shortfall``
    (True where less than ``ship_qty`` was allocated, with ``reason_code`` set to ``allocation_shortfall``);
    ``ship_qty`` keeps the requirement so the cut stays visible.
    """
    required = ["product_id", "inventory_position", "demand_daily_mean", "ship_qty", "case_pack", "moq"]
    missing = [column for column in [*required, "reason_code"] if column not in plan.columns]
    if missing:
        raise ValueError(f"plan is missing columns: {', '.join(missing)}")
    bad = {product: qty for product, qty in available.items() if not qty >= 0}
    if bad:
        raise ValueError(f"available stock must be a non-negative number, got {bad}")

    result = plan.copy()
    ship_qty = result["ship_qty"].to_numpy(dtype=float)
    allocated = ship_qty.copy()
    products = result["product_id"].to_numpy()
    for product, stock in available.items():
        rows = np.flatnonzero(products == product)
        if rows.size == 0 or ship_qty[rows].sum() <= stock:
            continue
        columns = {column: result[column].to_numpy(dtype=float)[rows] for column in required[1:]}
        allocated[rows] = _allocate_product(
            inventory_position=columns["inventory_position"],
            demand=columns["demand_daily_mean"],
            ship_qty=columns["ship_qty"],
            case_pack=columns["case_pack"],
            moq=columns["moq"],
            available=float(stock),
        )
    shortfall = allocated < ship_qty - _ROUNDING_TOLERANCE
    result["allocated_qty"] = allocated
    result["allocation_shortfall"] = shortfall
    result["reason_code"] = np.where(shortfall, ALLOCATION_SHORTFALL, result["reason_code"].to_numpy())
    return result
