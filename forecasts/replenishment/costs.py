"""Plans costed in money, and the ship days per location that reach the agreed service for the least cost.

Terms come per agreement (``marts.replenishment_policy``), in the supplier's currency:

- ``unit_cost``: what one unit is worth to us;
- ``holding_cost_rate``: a year's cost of holding a unit (capital, space, shrink) as a fraction of its cost;
- ``shipment_cost``: one delivery to one location, whatever it carries (a truck stop);
- ``stockout_penalty_rate``: one unit of demand not served (lost margin, the retailer's fine), as a fraction
  of the unit cost.

A term left blank costs nothing; such series are counted as not costed, so a total is never silently partial.

**Cadence.** One truck serves all of a partner location's lines, so a location's ship days are chosen together
(``choose_cadence``): the truck may come on any of the days its lines agreed to, and each line ships on the truck
days it agreed to. Shipping on fewer days saves deliveries, but each shipment must then last a longer gap ``g``
until the next one, so cycle stock, safety stock and the shortage per cycle grow. For each subset of the agreed
days the expected cost per day is, summed over the location's lines (d̄, σ_d, L, σ_L, z as in the policy; risk
period ``L + R`` with ``R = max(review_period_days, g)``, as the policy protects when the plan is made the night
before the truck):

- deliveries: ``shipment_cost · k / 7`` for ``k`` truck days a week (a location's lines are nearly always due
  on some day, so every truck day is counted as a delivery), shared equally by the location's lines;
- holding: ``unit_cost · h / 365 · Σ_g (g / 7) · (d̄·g / 2 + z·σ(g))``: cycle stock plus safety stock, weighted
  by how long each gap lasts;
- shortage: ``unit_cost · p · Σ_g σ(g)·G(z) / 7``, with ``σ(g) = sqrt((L + R)·σ_d² + d̄²·σ_L²)`` and ``G`` the
  standard normal loss function (expected units short per cycle).

The cheapest subset wins; on a tie the one with more ship days (fresher stock, more chances to correct), then the
earlier days of the week. **Hysteresis:** the goods already on their way were sized for the cadence of the
previous plan (``previous_ship_days``), so a location keeps that cadence unless the cheapest one saves more than
``CADENCE_CHANGE_MARGIN`` of its cost a day; a forecast that moves a little does not move the trucks. The agreed
service level is kept: the cadence changes how often, not how safely, the policy ships. The nightly plan
(``policy.plan_replenishment``) and the replay (``replay``) both choose with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from forecasts.forecasting.quantiles import z_for
from forecasts.replenishment.ship_days import format_ship_days, parse_ship_days

COST_COLUMNS = ["unit_cost", "holding_cost_rate", "shipment_cost", "stockout_penalty_rate"]
DAYS_PER_YEAR = 365.0
# A location changes cadence only when the new one costs at least this share less a day than the previous plan's.
CADENCE_CHANGE_MARGIN = 0.10


@dataclass(frozen=True)
class CostTerms:
    """Per series: money per unit-day held, per unit short, and per delivery to its location (0 where blank)."""

    holding_per_unit_day: np.ndarray
    shortage_per_unit: np.ndarray
    shipment_cost: np.ndarray
    costed: np.ndarray  # every term given

    @classmethod
    def of(cls, policy: pd.DataFrame) -> CostTerms:
        columns = {
            column: policy[column].to_numpy(dtype=float) if column in policy.columns else np.full(len(policy), np.nan)
            for column in COST_COLUMNS
        }
        unit_cost = columns["unit_cost"]
        holding = unit_cost * columns["holding_cost_rate"] / DAYS_PER_YEAR
        shortage = unit_cost * columns["stockout_penalty_rate"]
        shipment = columns["shipment_cost"]
        costed = ~(np.isnan(holding) | np.isnan(shortage) | np.isnan(shipment))
        return cls(np.nan_to_num(holding), np.nan_to_num(shortage), np.nan_to_num(shipment), costed)

    def take(self, positions: np.ndarray) -> CostTerms:
        """The terms of the series at ``positions``."""
        return CostTerms(
            self.holding_per_unit_day[positions],
            self.shortage_per_unit[positions],
            self.shipment_cost[positions],
            self.costed[positions],
        )


@dataclass(frozen=True)
class Costs:
    """Money spent over a period, by kind."""

    holding: float
    shipping: float
    stockout: float

    @property
    def total(self) -> float:
        return self.holding + self.shipping + self.stockout


def standard_normal_loss(z: np.ndarray) -> np.ndarray:
    """``G(z) = φ(z) − z·(1 − Φ(z))``: expected units short per unit of standard deviation."""
    from scipy.special import ndtr

    z = np.asarray(z, dtype=float)
    return np.exp(-0.5 * z**2) / np.sqrt(2 * np.pi) - z * (1.0 - ndtr(z))


def gaps_between(days: tuple[int, ...]) -> list[int]:
    """Days from each ship day to the next one in the week (one day a week: a gap of 7)."""
    ordered = sorted(days)
    return [((ordered[(i + 1) % len(ordered)] - day - 1) % 7) + 1 for i, day in enumerate(ordered)]


class _LineCosts:
    """Per line, holding and shortage per day of a cycle of each length ``g`` = 1..7 (module docstring): the
    arithmetic is done once for every line, so weighing every subset of a location's ship days only adds up."""

    def __init__(self, lines: pd.DataFrame, terms: CostTerms) -> None:
        demand = lines["demand_daily_mean"].to_numpy(dtype=float)
        std = lines["demand_daily_std"].to_numpy(dtype=float)
        lead = lines["lead_time_days"].to_numpy(dtype=float)
        lead_std = np.nan_to_num(lines["lead_time_std_days"].to_numpy(dtype=float))
        review = np.nan_to_num(lines["review_period_days"].to_numpy(dtype=float))
        z = np.clip(z_for(lines["service_level"].to_numpy(dtype=float)), 0.0, None)
        loss = standard_normal_loss(z)
        self.holding = np.zeros((8, len(lines)))
        self.shortage = np.zeros((8, len(lines)))
        for gap in range(1, 8):
            risk = lead + np.maximum(review, gap)
            sigma = np.sqrt(risk * std**2 + demand**2 * lead_std**2)
            self.holding[gap] = terms.holding_per_unit_day * (gap / 7) * (demand * gap / 2 + z * sigma)
            self.shortage[gap] = terms.shortage_per_unit * sigma * loss / 7
        self.shipment_cost = terms.shipment_cost

    def per_line(self, days: tuple[int, ...], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(holding, shortage) per day of the lines at ``rows`` shipping on ``days``."""
        gaps = gaps_between(days)
        return self.holding[np.ix_(gaps, rows)].sum(axis=0), self.shortage[np.ix_(gaps, rows)].sum(axis=0)

    def shipping(self, days: tuple[int, ...], rows: np.ndarray) -> float:
        """One truck serves the lines at ``rows`` (a location): a delivery on each of its ship days."""
        return float(self.shipment_cost[rows].max(initial=0.0)) * len(days) / 7


def expected_daily_cost(lines: pd.DataFrame, terms: CostTerms, days: tuple[int, ...]) -> tuple[float, float, float]:
    """(holding, shipping, shortage) per day of one location whose lines all ship on ``days`` (weekday numbers,
    Monday 0).

    ``lines`` holds the location's rows with the policy's terms and ``demand_daily_mean``/``demand_daily_std``;
    ``terms`` the same rows' costs.
    """
    costs, rows = _LineCosts(lines, terms), np.arange(len(lines))
    holding, shortage = costs.per_line(days, rows)
    return float(holding.sum()), costs.shipping(days, rows), float(shortage.sum())


CADENCE_COLUMNS = [
    "ship_days",
    "holding_cost_per_day",
    "shipping_cost_per_day",
    "stockout_cost_per_day",
    "location_cost_per_day",
    "location_agreed_cost_per_day",
]


def _cheapest_truck_days(
    costs: _LineCosts, rows: np.ndarray, agreed: list[frozenset[int]], previous: frozenset[int] = frozenset()
) -> tuple[tuple[int, ...], float, float]:
    """The cheapest truck days of the location whose lines are at ``rows``, their cost a day, and the cost a day
    of every agreed day.

    The truck may come on any day some line agreed to; each line then ships on the truck days it agreed to, and
    a set of truck days that leaves a line without any is not a cadence. ``previous`` (the previous plan's truck
    days, when it is still a cadence) is kept unless the cheapest saves more than ``CADENCE_CHANGE_MARGIN``.
    """
    groups: dict[frozenset[int], list[int]] = {}
    for position, days in enumerate(agreed):
        groups.setdefault(days, []).append(int(rows[position]))
    # Per group of lines with the same agreed days, their cost a day of a cycle of each length, summed once.
    per_gap = {
        days: (costs.holding[:, members] + costs.shortage[:, members]).sum(axis=1) for days, members in groups.items()
    }
    allowed = tuple(sorted(frozenset().union(*groups)))

    def total(truck: tuple[int, ...]) -> float | None:
        cost = costs.shipping(truck, rows)
        for days, by_gap in per_gap.items():
            served = tuple(day for day in truck if day in days)
            if not served:
                return None
            cost += float(sum(by_gap[gap] for gap in gaps_between(served)))
        return cost

    every_agreed = total(allowed)
    assert every_agreed is not None
    best, best_days = every_agreed, allowed
    for count in range(len(allowed) - 1, 0, -1):
        for truck in combinations(allowed, count):
            cost = total(truck)
            if cost is not None and cost < best - 1e-9:
                best, best_days = cost, truck
    kept = total(tuple(sorted(previous))) if previous and previous <= set(allowed) else None
    if kept is not None and best >= kept * (1 - CADENCE_CHANGE_MARGIN):
        return tuple(sorted(previous)), kept, every_agreed
    return best_days, best, every_agreed


def choose_cadence(lines: pd.DataFrame) -> pd.DataFrame:
    """Per row, the ship days its location's truck should use and what that costs a day (``CADENCE_COLUMNS``).

    ``lines`` holds one row per location × product with the policy's terms (``partner_id``, ``location_id``,
    ``ship_days``, lead time, review period, service level), the cost terms (``COST_COLUMNS``; a missing
    column is blank) and ``demand_daily_mean``/``demand_daily_std``. One truck serves all of a location's lines,
    so the ship days are chosen per location, from the days its lines agreed to, for the least expected cost
    per day of all its lines (module docstring); the cost of the deliveries is shared equally by its lines.
    A location with a line lacking a cost term keeps every row's agreed ``ship_days`` and its costs are NaN:
    there is no price to weigh a delivery against. Deterministic: on equal costs more ship days win, then the
    earlier days of the week. An optional ``previous_ship_days`` column (the ship days of the plan before, blank
    when none) makes a location keep its truck days unless a change saves more than ``CADENCE_CHANGE_MARGIN``.
    """
    agreed = lines["ship_days"].astype(object) if "ship_days" in lines.columns else pd.Series(None, index=lines.index)
    chosen = agreed.to_numpy(copy=True)
    values = {column: np.full(len(lines), np.nan) for column in CADENCE_COLUMNS[1:]}
    terms = CostTerms.of(lines)
    previous = (
        lines["previous_ship_days"].astype(object).to_numpy()
        if "previous_ship_days" in lines.columns
        else np.full(len(lines), None, dtype=object)
    )
    if terms.costed.any():
        costs = _LineCosts(lines, terms)
        locations = pd.factorize(pd.MultiIndex.from_frame(lines[["partner_id", "location_id"]]))[0]
        for location in np.unique(locations):
            rows = np.flatnonzero(locations == location)
            if not terms.costed[rows].all():
                continue
            allowed = [parse_ship_days(days) for days in chosen[rows]]
            before = frozenset().union(*(parse_ship_days(days) for days in previous[rows] if _given(days)))
            truck, total, every_agreed = _cheapest_truck_days(costs, rows, allowed, before)
            shipped = [days.intersection(truck) for days in allowed]
            chosen[rows] = [format_ship_days(days) for days in shipped]
            for row, days in zip(rows, shipped, strict=True):
                holding, shortage = costs.per_line(tuple(sorted(days)), np.array([row]))
                values["holding_cost_per_day"][row], values["stockout_cost_per_day"][row] = holding[0], shortage[0]
            values["shipping_cost_per_day"][rows] = costs.shipping(truck, rows) / len(rows)
            values["location_cost_per_day"][rows] = total
            values["location_agreed_cost_per_day"][rows] = every_agreed
    return pd.DataFrame({"ship_days": chosen, **values}, index=lines.index)


def _given(days: object) -> bool:
    return days is not None and not pd.isna(days) and bool(str(days).strip())


def choose_ship_days(lines: pd.DataFrame) -> pd.Series:
    """Per row, the ship days its location should use (``choose_cadence``)."""
    return choose_cadence(lines)["ship_days"]
