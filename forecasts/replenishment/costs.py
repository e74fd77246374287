"""Plans costed in money, and the ship-day cadence per lane that reaches the agreed service for the least cost.

Terms come per agreement (``marts.replenishment_policy``), in the supplier's currency:

- ``unit_cost``: what one unit is worth to us;
- ``holding_cost_rate``: a year's cost of holding a unit (capital, space, shrink) as a fraction of its cost;
- ``shipment_cost``: one delivery to one location, whatever it carries (a truck stop);
- ``stockout_penalty_rate``: one unit of demand not served (lost margin, the retailer's fine), as a fraction
  of the unit cost.

A term left blank costs nothing; such series are counted as not costed, so a total is never silently partial.

**Cadence.** A lane (one partner location and its agreed ship days) may ship on any of those days. Shipping on
fewer of them saves deliveries, but each shipment must then last a longer gap ``g`` until the next one, so
cycle stock, safety stock and the shortage per cycle grow. For each subset of the agreed days the expected cost
per day is, summed over the lane's lines (d̄, σ_d, L, σ_L, z as in the policy; risk period ``L + R`` with
``R = max(review_period_days, g)``, as the policy protects when the plan is made the night before the truck):

- deliveries: ``shipment_cost · k / 7`` for ``k`` shipping days a week (a lane's lines are nearly always due
  on some day, so every shipping day is counted as a delivery);
- holding: ``unit_cost · h / 365 · Σ_g (g / 7) · (d̄·g / 2 + z·σ(g))``: cycle stock plus safety stock, weighted
  by how long each gap lasts;
- shortage: ``unit_cost · p · Σ_g σ(g)·G(z) / 7``, with ``σ(g) = sqrt((L + R)·σ_d² + d̄²·σ_L²)`` and ``G`` the
  standard normal loss function (expected units short per cycle).

The cheapest subset wins; on a tie the one with more ship days (fresher stock, more chances to correct).
The agreed service level is kept: the cadence changes how often, not how safely, the policy ships.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from forecasts.forecasting.quantiles import z_for
from forecasts.replenishment.policy import parse_ship_days

COST_COLUMNS = ["unit_cost", "holding_cost_rate", "shipment_cost", "stockout_penalty_rate"]
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAYS_PER_YEAR = 365.0


@dataclass(frozen=True)
class CostTerms:
    """Per series: money per unit-day held, per unit short, and per delivery to its lane (0 where blank)."""

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


def expected_daily_cost(lines: pd.DataFrame, terms: CostTerms, days: tuple[int, ...]) -> tuple[float, float, float]:
    """(holding, shipping, shortage) per day of one lane shipping on ``days`` (weekday numbers, Monday 0).

    ``lines`` holds the lane's rows with the policy's terms and ``demand_daily_mean``/``demand_daily_std``;
    ``terms`` the same rows' costs.
    """
    demand = lines["demand_daily_mean"].to_numpy(dtype=float)
    std = lines["demand_daily_std"].to_numpy(dtype=float)
    lead = lines["lead_time_days"].to_numpy(dtype=float)
    lead_std = np.nan_to_num(lines["lead_time_std_days"].to_numpy(dtype=float))
    review = np.nan_to_num(lines["review_period_days"].to_numpy(dtype=float))
    z = np.clip(z_for(lines["service_level"].to_numpy(dtype=float)), 0.0, None)
    loss = standard_normal_loss(z)
    holding = shortage = 0.0
    for gap in gaps_between(days):
        risk = lead + np.maximum(review, gap)
        sigma = np.sqrt(risk * std**2 + demand**2 * lead_std**2)
        holding += float((terms.holding_per_unit_day * (gap / 7) * (demand * gap / 2 + z * sigma)).sum())
        shortage += float((terms.shortage_per_unit * sigma * loss).sum()) / 7
    shipping = float(terms.shipment_cost.max(initial=0.0)) * len(days) / 7
    return holding, shipping, shortage


def cheapest_ship_days(lines: pd.DataFrame, terms: CostTerms, agreed: str | None) -> str:
    """The subset of the ``agreed`` ship days (``'Mon,Wed,Fri'``; blank = every day) with the least expected
    cost per day for these lines, written the same way."""
    allowed = tuple(sorted(parse_ship_days(agreed)))
    best: tuple[float, int, tuple[int, ...]] | None = None
    for count in range(len(allowed), 0, -1):
        for days in combinations(allowed, count):
            cost = sum(expected_daily_cost(lines, terms, days))
            if best is None or cost < best[0] - 1e-9:
                best = (cost, count, days)
    assert best is not None
    return ",".join(WEEKDAY_NAMES[day] for day in best[2])


def choose_ship_days(lines: pd.DataFrame) -> pd.Series:
    """Per row, the ship days its lane should use: the cheapest subset of the agreed ones (module docstring).

    A lane is a partner location with one set of agreed ship days. Lines without every cost term keep the
    agreed days: there is no price to weigh a delivery against.
    """
    terms = CostTerms.of(lines)
    chosen = lines["ship_days"].astype(object).copy()
    agreed = lines["ship_days"].astype(object).where(lines["ship_days"].notna(), "")
    costed = pd.Series(terms.costed, index=lines.index)
    for _, rows in lines[costed].groupby([lines["partner_id"], lines["location_id"], agreed], sort=False):
        lane_terms = terms.take(lines.index.get_indexer(rows.index))
        chosen.loc[rows.index] = cheapest_ship_days(rows, lane_terms, agreed.loc[rows.index[0]] or None)
    return chosen
