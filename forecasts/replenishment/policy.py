"""Replenishment policy: what to ship to each partner location × product on a plan date, when, and why.

A periodic-review order-up-to policy, vectorised over one row per location × product. The plan date is the
business date whose end-of-day stock the inputs describe; the plan runs that night, so the earliest shipment
leaves the next morning, on the first of the location's ship days — ``k`` days after the plan date. Goods
received on a day can be sold that day.

The ship days are the cheapest cadence of the location (``costs.choose_cadence``): one truck serves all of a
location's lines, so from the days its agreements allow (``ship_days``, e.g. ``'Mon,Thu'``; every day when not
given) the plan keeps the subset with the least expected cost per day — deliveries shared by the lines, stock
held, and the expected shortage at the agreed service level. A location with a line lacking a cost term ships on
every agreed day. So, with ship days meaning the chosen ones:

- ``w = k − 1`` days of sales happen before the truck leaves, and ``w + L`` before it is received (lead time
  ``L`` counts from the ship date);
- we only get another chance to ship ``R`` days later, ``R = max(review_period_days, days from the ship date
  to the following chosen ship day)``, so the stock must last until *that* shipment arrives: the risk period is
  ``w + L + R`` days. (Protecting only ``L``, as a continuous-review reorder point does, under-protects every
  lane that does not ship daily; replayed with ``cmi simulate`` it missed its service targets by far.)

Per row:

- inventory position ``IP = on_hand + on_order + in_transit − committed``;
- safety stock ``SS = z(service_level) · sqrt((w + L + R)·σ_d² + d̄²·σ_L²)``;
- reorder point ``ROP = d̄·(w + L + R) + SS``, raised to the agreed minimum cover ``d̄·(w + min_cover_days)``
  (cover counted on the ship date);
- order-up-to level ``S = clip(d̄·(L + R) + SS, d̄·min_cover_days, d̄·max_cover_days) + d̄·w`` — equal to the
  reorder point unless a cover bound applies, i.e. an order-up-to (base-stock) policy reviewed on ship days;
- ship ``S − IP`` when ``IP ≤ ROP``, rounded up to whole case packs and at least the MOQ; nothing otherwise.

The plan is made every night, so the plan that is executed is the one made the night before the ship day
(``k = 1``); rows with a later ``ship_date`` are previews. Rows are held (nothing ships) when the partner's data
failed its blocking checks or its stock feed is stale. When the supplier's own stock cannot cover every line,
``allocate_fairly`` cuts the plan back case by case.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Mapping
from datetime import date, timedelta

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from forecasts.forecasting.quantiles import Z_P90, z_for
from forecasts.replenishment.costs import CADENCE_COLUMNS, COST_COLUMNS, choose_cadence
from forecasts.replenishment.demand_window import demand_over_risk_window
from forecasts.replenishment.ship_days import format_ship_days, parse_ship_days

BELOW_REORDER_POINT = "below_reorder_point"
BELOW_MIN_COVER = "below_min_cover"
NO_ACTION = "no_action"
NO_DEMAND = "no_demand"
ALLOCATION_SHORTFALL = "allocation_shortfall"
HELD_DATA_FAILED_CHECKS = "held_data_failed_checks"
HELD_STALE_FEED = "held_stale_feed"
REASON_CODES = (
    BELOW_REORDER_POINT,
    BELOW_MIN_COVER,
    NO_ACTION,
    NO_DEMAND,
    ALLOCATION_SHORTFALL,
    HELD_DATA_FAILED_CHECKS,
    HELD_STALE_FEED,
)
# The partner data gate's status (quality.partner_data_gate.status) that blocks a partner's plan.
HELD_GATE_STATUS = "held"

# The plan date's stock is end-of-day; the plan runs that night, so nothing can leave before the next day.
EARLIEST_SHIP_OFFSET_DAYS = 1
# Matches the dbt freshness warning on fct_inventory_daily: a count older than three days is a stopped feed.
DEFAULT_STALE_AFTER_DAYS = 3.0

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
# Columns a caller may leave out altogether (see plan_replenishment for what a missing one means).
OPTIONAL_INPUT_COLUMNS = [
    "ship_days",
    "observation_age_days",
    "data_gate_status",
    *COST_COLUMNS,
    "previous_ship_days",
    "previous_ship_date",
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
    "min_cover_days",
    "max_cover_days",
    "ship_days_agreed",
    "ship_days",
    "ship_date",
    "days_to_ship",
    "expected_receipt_date",
    "risk_period_days",
    "lead_time_demand",
    "safety_stock",
    "reorder_point",
    "order_up_to",
    "ship_qty",
    "allocated_qty",
    "allocation_shortfall",
    "case_pack",
    "moq",
    "days_of_cover",
    "days_of_cover_after",
    "projected_stockout_date",
    "stockout_within_lead_time",
    "observation_age_days",
    "reason_code",
    *CADENCE_COLUMNS[1:],
]

# A stock-out projected further out than this is no planning signal, and the date would overflow.
STOCKOUT_PROJECTION_LIMIT_DAYS = 3660
# Quantities are floats; without a tolerance 3 cases computed as 3.0000000001 would round up to 4.
_ROUNDING_TOLERANCE = 1e-9


def demand_std_from_quantiles(p50: ArrayLike, p90: ArrayLike) -> np.ndarray:
    """Daily demand standard deviation implied by a forecast's p50 and p90, ``(p90 − p50) / z(0.9)``."""
    return np.clip((np.asarray(p90, dtype=float) - np.asarray(p50, dtype=float)) / Z_P90, 0.0, None)


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


def days_to_next_ship_day(plan_date: date, ship_days: str | None, earliest: int = EARLIEST_SHIP_OFFSET_DAYS) -> int:
    """Days from ``plan_date`` to the first of the ``ship_days`` at least ``earliest`` days later."""
    weekdays = parse_ship_days(ship_days)
    start = plan_date.weekday()
    return next(offset for offset in range(earliest, earliest + 7) if (start + offset) % 7 in weekdays)


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
    if "observation_age_days" in inputs.columns:
        age = pd.to_numeric(inputs["observation_age_days"]).to_numpy(dtype=float)
        values["observation_age_days"] = np.nan_to_num(age, nan=0.0)
    else:
        values["observation_age_days"] = np.zeros(len(inputs))

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


def _cadence(inputs: pd.DataFrame, choose: bool) -> pd.DataFrame:
    """Per row, the agreed ship days and the ones the plan uses with their cost a day (``costs.CADENCE_COLUMNS``),
    both written out day by day (an empty agreement is every day)."""
    agreed = inputs["ship_days"] if "ship_days" in inputs.columns else pd.Series(None, index=inputs.index)
    written = {days: format_ship_days(parse_ship_days(days)) for days in agreed.astype(object).dropna().unique()}
    lines = inputs.assign(ship_days=[written.get(days, format_ship_days(range(7))) for days in agreed])
    cadence = choose_cadence(lines) if choose else lines[["ship_days"]].reindex(columns=CADENCE_COLUMNS)
    return cadence.assign(ship_days_agreed=lines["ship_days"])


def _ship_calendar(ship_days: pd.Series, plan_date: date) -> tuple[np.ndarray, np.ndarray]:
    """Per row: days from the plan date to the next ship day, and from that ship day to the one after it."""
    lanes = ship_days.tolist()
    calendar = {}
    for lane in set(lanes):
        days_to_ship = days_to_next_ship_day(plan_date, lane)
        ship_date = plan_date + timedelta(days=days_to_ship)
        calendar[lane] = (days_to_ship, days_to_next_ship_day(ship_date, lane, earliest=1))
    to_ship = np.array([calendar[lane][0] for lane in lanes], dtype="int64")
    gap = np.array([calendar[lane][1] for lane in lanes], dtype="int64")
    return to_ship, gap


def _promised_offsets(inputs: pd.DataFrame, plan_date: date) -> np.ndarray:
    """Per row, days from the plan date to the next truck the previous plan promised (NaN when none): its
    ``ship_date`` when still ahead, else the next of its ship days."""
    promised = np.full(len(inputs), np.nan)
    if "previous_ship_days" not in inputs.columns:
        return promised
    previous_days = inputs["previous_ship_days"].astype(object).to_numpy()
    previous_date = (
        pd.to_datetime(inputs["previous_ship_date"]).to_numpy()
        if "previous_ship_date" in inputs.columns
        else np.full(len(inputs), np.datetime64("NaT"))
    )
    given = np.array([days is not None and not pd.isna(days) and bool(str(days).strip()) for days in previous_days])
    offsets = {days: days_to_next_ship_day(plan_date, days) for days in set(previous_days[given])}
    promised[given] = [offsets[days] for days in previous_days[given]]
    ahead = (previous_date.astype("datetime64[D]") - np.datetime64(plan_date, "D")).astype(float)
    ahead[np.isnat(previous_date)] = np.nan
    still_ahead = given & (ahead >= EARLIEST_SHIP_OFFSET_DAYS)
    promised[still_ahead] = np.minimum(promised[still_ahead], ahead[still_ahead])
    return promised


def _honour_promised_truck(
    inputs: pd.DataFrame, cadence: pd.DataFrame, plan_date: date, days_to_ship: np.ndarray, gap: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """When the cadence dropped the truck the goods on their way were sized for, the first shipment still goes on
    that truck (if the row agreed to its day): never later than the previous plan promised. The gap after it runs
    to the next of the new ship days."""
    promised = _promised_offsets(inputs, plan_date)
    days_to_ship, gap = days_to_ship.copy(), gap.copy()
    for row in np.flatnonzero(promised < days_to_ship):
        offset = int(promised[row])
        ship_date = plan_date + timedelta(days=offset)
        if ship_date.weekday() not in parse_ship_days(cadence["ship_days_agreed"].iloc[row]):
            continue
        days_to_ship[row] = offset
        gap[row] = days_to_next_ship_day(ship_date, cadence["ship_days"].iloc[row], earliest=1)
    return days_to_ship, gap


def _held_by_gate(inputs: pd.DataFrame) -> np.ndarray:
    if "data_gate_status" not in inputs.columns:
        return np.zeros(len(inputs), dtype=bool)
    return (inputs["data_gate_status"].astype(object).to_numpy() == HELD_GATE_STATUS).astype(bool)


def _dates_after(plan_date: date, offsets: np.ndarray, index: pd.Index) -> pd.Series:
    """``plan_date + offsets`` days as a datetime column; NaN offsets and those beyond the limit give NaT."""
    offsets = np.asarray(offsets, dtype=float)
    known = ~np.isnan(offsets) & (offsets <= STOCKOUT_PROJECTION_LIMIT_DAYS)
    days = np.where(known, offsets, 0).astype("int64").astype("timedelta64[D]")
    dates = np.datetime64(plan_date, "D") + days
    return pd.Series(np.where(known, dates, np.datetime64("NaT")), index=index).astype("datetime64[us]")


def plan_replenishment(
    inputs: pd.DataFrame,
    plan_date: date,
    *,
    supplier_stock: Mapping[Hashable, float] | None = None,
    stale_after_days: float = DEFAULT_STALE_AFTER_DAYS,
    costed_cadence: bool = True,
    daily_forecast: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Plan one row per partner location × product (columns ``INPUT_COLUMNS``) as of ``plan_date``.

    Missing values default to nothing outstanding (``on_order``, ``in_transit``, ``committed``), no lead-time
    spread, no MOQ, single-unit case packs, and no cover bound (``min_cover_days``, ``max_cover_days``).
    Optional columns (``OPTIONAL_INPUT_COLUMNS``): ``ship_days`` (e.g. ``'Mon,Thu'``; every day when absent
    or empty), ``observation_age_days`` (age of the stock count, 0 when absent; above ``stale_after_days`` the
    row is held) and ``data_gate_status`` (the partner data gate's status; ``'held'`` holds the row).
    ``supplier_stock`` maps product_id → units we have available; when given, ``allocate_fairly`` shares short
    products out, otherwise every line is allocated in full.

    ``previous_ship_days`` and ``previous_ship_date`` (the plan of the night before, blank when none) carry the
    cadence the goods on their way were sized for: a location keeps it unless a change saves more than
    ``costs.CADENCE_CHANGE_MARGIN``, and a change never makes the next shipment later than that plan promised.
    Cost terms (``costs.COST_COLUMNS``, optional) choose each location's ship days (module docstring); with
    ``costed_cadence=False``, or without them, every agreed day is kept. ``ship_days_agreed`` is what the
    agreement allows and ``ship_days`` the days the plan uses, both written out (``'Mon,Thu'``);
    ``holding_cost_per_day``, ``shipping_cost_per_day`` (the line's share of its location's deliveries) and
    ``stockout_cost_per_day`` the line's expected cost a day on those days, ``location_cost_per_day`` the
    location's total and ``location_agreed_cost_per_day`` its total shipping on every agreed day (all NaN when
    not costed).

    ``daily_forecast`` (``demand_window.FORECAST_COLUMNS``: the night's forecast, one row per series and day,
    ``⌈6 + L + max(review, 7)⌉`` days ahead) replaces ``demand_daily_mean`` and ``demand_daily_std``,
    once the ship days are chosen, with their means over each row's own risk period (``demand_window``); the
    inputs' means, taken over a shorter fixed horizon, then only choose the ship days, and they stay for a row
    the forecast does not cover.

    Returns ``PLAN_COLUMNS`` on the input's index. ``ship_date`` is the next of those ship days after the plan
    date, ``days_to_ship`` the days until it and ``expected_receipt_date`` the ship date plus the rounded mean
    lead time. Days of cover count on-hand (``days_of_cover``) and the position after the allocated shipment
    (``days_of_cover_after``) in days of d̄ from the plan date; both are infinite and the projected stock-out
    date (when on-hand runs out without further receipts) is NaT when there is no demand; a stock-out more than
    ``STOCKOUT_PROJECTION_LIMIT_DAYS`` away is NaT too. ``stockout_within_lead_time`` is true when on-hand
    runs out before a shipment planned now is received (within ``w + L`` days). ``risk_period_days`` is
    ``w + L + R``, the days the reorder point and safety stock protect.

    ``reason_code``, first match wins: ``held_data_failed_checks``, ``held_stale_feed`` (both ship nothing),
    ``allocation_shortfall`` (allocated less than required), ``below_reorder_point`` (ships; position at or
    below the statistical reorder point), ``below_min_cover`` (ships; position above the statistical reorder
    point but short of the agreed minimum cover), ``no_demand`` (d̄ = 0: nothing ships, whatever the position —
    a phantom negative count is no reason to ship a product nobody buys), ``no_action`` otherwise — which
    includes a position at or below the reorder point whose order-up-to level, capped by ``max_cover_days``,
    is already reached.
    """
    values = _validated_inputs(inputs)
    demand, lead_time = values["demand_daily_mean"], values["lead_time_days"]
    cadence = _cadence(inputs, costed_cadence)
    days_to_ship, ship_gap = _ship_calendar(cadence["ship_days"], plan_date)
    days_to_ship, ship_gap = _honour_promised_truck(inputs, cadence, plan_date, days_to_ship, ship_gap)
    waiting = days_to_ship - 1
    review = np.maximum(values["review_period_days"], ship_gap)
    risk_period = waiting + lead_time + review
    if daily_forecast is not None:
        mean, std = demand_over_risk_window(inputs, daily_forecast, plan_date, risk_period)
        demand = np.where(np.isnan(mean), demand, mean)
        values["demand_daily_std"] = np.where(np.isnan(std), values["demand_daily_std"], std)

    inventory_position = values["on_hand"] + values["on_order"] + values["in_transit"] - values["committed"]
    z = z_for(values["service_level"])
    safety_stock = z * np.sqrt(
        risk_period * values["demand_daily_std"] ** 2 + demand**2 * values["lead_time_std_days"] ** 2
    )
    lead_time_demand = demand * (waiting + lead_time)
    statistical_reorder_point = demand * risk_period + safety_stock
    min_cover, max_cover = values["min_cover_days"], values["max_cover_days"]
    has_min_cover = ~np.isnan(min_cover)
    min_cover_level = np.where(has_min_cover, demand * (waiting + np.nan_to_num(min_cover)), -np.inf)
    reorder_point = np.maximum(statistical_reorder_point, min_cover_level)
    lower = np.where(has_min_cover, demand * min_cover, -np.inf)
    upper = np.where(np.isnan(max_cover), np.inf, demand * max_cover)
    order_up_to = np.clip(demand * (lead_time + review) + safety_stock, lower, upper) + demand * waiting

    has_demand = demand > 0
    held_by_gate = _held_by_gate(inputs)
    held_stale = ~held_by_gate & (values["observation_age_days"] > stale_after_days)
    plannable = has_demand & ~held_by_gate & ~held_stale
    due = plannable & (inventory_position <= reorder_point)
    raw_qty = np.where(due, order_up_to - inventory_position, 0.0)
    ship_qty = round_ship_qty(raw_qty, values["case_pack"], values["moq"])

    reason_code = np.select(
        [
            held_by_gate,
            held_stale,
            (ship_qty > 0) & (inventory_position <= statistical_reorder_point),
            ship_qty > 0,
            ~has_demand,
        ],
        [HELD_DATA_FAILED_CHECKS, HELD_STALE_FEED, BELOW_REORDER_POINT, BELOW_MIN_COVER, NO_DEMAND],
        default=NO_ACTION,
    )
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        days_of_cover = np.where(has_demand, values["on_hand"] / demand, np.inf)
    days_to_stockout = np.where(has_demand, np.clip(np.floor(days_of_cover), 0, None), np.nan)

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
            "min_cover_days": min_cover,
            "max_cover_days": max_cover,
            "ship_days_agreed": cadence["ship_days_agreed"],
            "ship_days": cadence["ship_days"],
            "ship_date": _dates_after(plan_date, days_to_ship, inputs.index),
            "days_to_ship": days_to_ship,
            "expected_receipt_date": _dates_after(plan_date, days_to_ship + np.floor(lead_time + 0.5), inputs.index),
            "risk_period_days": risk_period,
            "lead_time_demand": lead_time_demand,
            "safety_stock": safety_stock,
            "reorder_point": reorder_point,
            "order_up_to": order_up_to,
            "ship_qty": ship_qty,
            "allocated_qty": ship_qty,
            "allocation_shortfall": False,
            "case_pack": values["case_pack"],
            "moq": values["moq"],
            "days_of_cover": days_of_cover,
            "days_of_cover_after": _cover(inventory_position + ship_qty, demand),
            "projected_stockout_date": _dates_after(plan_date, days_to_stockout, inputs.index),
            "stockout_within_lead_time": has_demand & (days_of_cover < waiting + lead_time),
            "observation_age_days": values["observation_age_days"],
            "reason_code": reason_code,
            **{column: cadence[column].astype(float) for column in CADENCE_COLUMNS[1:]},
        },
        index=inputs.index,
    )
    if supplier_stock is not None:
        plan = allocate_fairly(plan, supplier_stock)
    return plan[PLAN_COLUMNS]


def _cover(position: np.ndarray, demand: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(demand > 0, position / demand, np.inf)


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
    Products not in ``available`` are not constrained. Sets ``allocated_qty`` and ``allocation_shortfall``
    (True where less than ``ship_qty`` was allocated, with ``reason_code`` set to ``allocation_shortfall``)
    and, when the plan has it, recomputes ``days_of_cover_after`` from the allocated quantity; ``ship_qty``
    keeps the requirement so the cut stays visible.
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
    if "days_of_cover_after" in result.columns:
        result["days_of_cover_after"] = _cover(
            result["inventory_position"].to_numpy(dtype=float) + allocated,
            result["demand_daily_mean"].to_numpy(dtype=float),
        )
    return result


PROJECTION_COLUMNS = ["date", "demand", "receipts", "on_hand_without_shipment", "on_hand_with_shipment"]


def project_on_hand(
    plan_date: date,
    on_hand: float,
    daily_demand: ArrayLike,
    *,
    receipts: ArrayLike | None = None,
    shipment_qty: float = 0.0,
    shipment_receipt_date: date | None = None,
) -> pd.DataFrame:
    """Projected end-of-day stock on hand for the days after ``plan_date``, without and with the planned shipment.

    ``daily_demand[k]`` is the expected demand on day ``plan_date + k + 1`` (the forecast's p50) and
    ``receipts[k]`` what arrives that day already (our shipments in transit); ``shipment_qty`` arrives on
    ``shipment_receipt_date``, which may lie beyond the horizon (then both projections are equal). As in the
    policy, goods received on a day can be sold that day. A store cannot sell stock it does not have, so on hand
    stops at zero and demand it cannot meet is lost rather than carried as a negative balance; a negative count
    at the start is treated as nothing on hand.

    Returns one row per day (``PROJECTION_COLUMNS``): the date, its demand and receipts (without the planned
    shipment) and the two projections.
    """
    demand = np.clip(np.asarray(daily_demand, dtype=float), 0.0, None)
    if demand.ndim != 1 or np.isnan(demand).any():
        raise ValueError("daily_demand must be a flat series of numbers")
    horizon = len(demand)
    arriving = np.zeros(horizon) if receipts is None else np.asarray(receipts, dtype=float)
    if arriving.shape != demand.shape:
        raise ValueError(f"receipts cover {arriving.size} days, daily_demand {horizon}")
    planned = np.zeros(horizon)
    if shipment_receipt_date is not None and shipment_qty > 0:
        offset = (shipment_receipt_date - plan_date).days - 1
        if offset < 0:
            raise ValueError("the planned shipment cannot arrive on or before the plan date")
        if offset < horizon:
            planned[offset] = shipment_qty

    def project(arrivals: np.ndarray) -> np.ndarray:
        level = max(float(on_hand), 0.0)
        path = np.empty(horizon)
        for day in range(horizon):
            level = max(level + arrivals[day] - demand[day], 0.0)
            path[day] = level
        return path

    dates = pd.date_range(pd.Timestamp(plan_date) + pd.Timedelta(days=1), periods=horizon, freq="D")
    return pd.DataFrame(
        {
            "date": dates,
            "demand": demand,
            "receipts": arriving,
            "on_hand_without_shipment": project(arriving),
            "on_hand_with_shipment": project(arriving + planned),
        },
        columns=PROJECTION_COLUMNS,
    )
