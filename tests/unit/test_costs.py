"""Plans costed in money: the cost terms, the expected cost of a cadence, and the cadence each lane is given."""

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasts.replenishment.costs import (
    CADENCE_CHANGE_MARGIN,
    CostTerms,
    choose_cadence,
    choose_ship_days,
    expected_daily_cost,
    gaps_between,
    standard_normal_loss,
)
from forecasts.replenishment.ship_days import WEEKDAY_NAMES, parse_ship_days


def lane(count: int = 3, *, shipment_cost: float = 150.0, holding_cost_rate: float = 0.25, **overrides) -> pd.DataFrame:
    row = {
        "partner_id": "p1",
        "location_id": "L1",
        "product_id": "A",
        "lead_time_days": 3.0,
        "lead_time_std_days": 0.5,
        "review_period_days": 1.0,
        "service_level": 0.95,
        "ship_days": "Mon,Wed,Fri",
        "unit_cost": 4.0,
        "holding_cost_rate": holding_cost_rate,
        "shipment_cost": shipment_cost,
        "stockout_penalty_rate": 0.5,
        "demand_daily_mean": 12.0,
        "demand_daily_std": 4.0,
    }
    return pd.DataFrame([{**row, "product_id": f"P{i}", **overrides} for i in range(count)])


def test_gaps_run_from_each_ship_day_to_the_next_one_round_the_week():
    assert gaps_between((0, 2, 4)) == [2, 2, 3]
    assert gaps_between((3,)) == [7]
    assert gaps_between(tuple(range(7))) == [1] * 7
    assert sum(gaps_between((1, 5))) == 7


def test_standard_normal_loss_matches_its_tabled_values():
    assert standard_normal_loss(np.array([0.0, 1.0, 2.0])) == pytest.approx([0.3989, 0.0833, 0.0085], abs=1e-4)


def test_terms_price_a_unit_day_a_unit_short_and_a_delivery_and_mark_what_is_blank():
    lines = lane(2)
    lines.loc[1, "stockout_penalty_rate"] = np.nan
    terms = CostTerms.of(lines)
    assert terms.holding_per_unit_day[0] == pytest.approx(4.0 * 0.25 / 365)
    assert terms.shortage_per_unit.tolist() == [2.0, 0.0]
    assert terms.costed.tolist() == [True, False]
    assert CostTerms.of(lines.drop(columns=["unit_cost"])).costed.tolist() == [False, False]


def test_fewer_ship_days_cost_less_to_deliver_and_more_to_hold():
    lines = lane()
    terms = CostTerms.of(lines)
    every = expected_daily_cost(lines, terms, (0, 2, 4))
    weekly = expected_daily_cost(lines, terms, (0,))
    assert every[1] == pytest.approx(150.0 * 3 / 7) and weekly[1] == pytest.approx(150.0 / 7)
    assert weekly[0] > every[0], "a week's cover is held instead of two or three days'"
    assert weekly[2] > every[2] / 3, "each cycle's shortage grows with the risk period"


def test_a_dear_delivery_thins_the_cadence_and_a_free_one_keeps_every_agreed_day_when_only_holding_costs():
    assert len(choose_ship_days(lane(shipment_cost=5000.0)).iloc[0].split(",")) == 1
    assert set(choose_ship_days(lane(shipment_cost=0.0, stockout_penalty_rate=0.0))) == {"Mon,Wed,Fri"}
    five = choose_ship_days(lane(shipment_cost=150.0, holding_cost_rate=2.0, ship_days="Mon,Tue,Wed,Thu,Fri"))
    assert len(set(five)) == 1, "one lane, one cadence"
    assert set(five.iloc[0].split(",")) <= {"Mon", "Tue", "Wed", "Thu", "Fri"}


def test_at_a_fixed_cycle_service_level_more_cycles_mean_more_shortages():
    """Each cycle risks its own shortage, so even free deliveries are not always worth taking."""
    lines = lane(shipment_cost=0.0)
    terms = CostTerms.of(lines)
    assert expected_daily_cost(lines, terms, (0, 2, 4))[2] > expected_daily_cost(lines, terms, (0,))[2]


def test_the_cheapest_cadence_is_the_least_expected_cost_of_every_subset():
    lines = lane(shipment_cost=400.0)
    terms = CostTerms.of(lines)
    names = {"Mon": 0, "Wed": 2, "Fri": 4}
    subsets = [(0,), (2,), (4,), (0, 2), (0, 4), (2, 4), (0, 2, 4)]
    cheapest = min(sum(expected_daily_cost(lines, terms, days)) for days in subsets)
    chosen = tuple(names[name] for name in choose_ship_days(lines).iloc[0].split(","))
    assert sum(expected_daily_cost(lines, terms, chosen)) == pytest.approx(cheapest)


def test_lanes_are_chosen_apart_and_lines_without_costs_keep_their_agreed_days():
    lines = pd.concat(
        [
            lane(2, shipment_cost=5000.0),
            lane(2, shipment_cost=0.0, stockout_penalty_rate=0.0, location_id="L2"),
            lane(1, shipment_cost=np.nan, location_id="L3"),
        ],
        ignore_index=True,
    )
    chosen = choose_ship_days(lines)
    assert len(chosen.iloc[0].split(",")) == 1 and chosen.iloc[0] == chosen.iloc[1]
    assert chosen.iloc[2:].tolist() == ["Mon,Wed,Fri"] * 3


lane_terms = st.fixed_dictionaries(
    {
        "shipment_cost": st.floats(0.0, 5000.0),
        "holding_cost_rate": st.floats(0.01, 3.0),
        "stockout_penalty_rate": st.floats(0.0, 3.0),
        "service_level": st.floats(0.5, 0.995),
        "review_period_days": st.floats(0.0, 10.0),
        "demand_daily_mean": st.floats(0.0, 200.0),
        "demand_daily_std": st.floats(0.0, 60.0),
        "ship_days": st.sets(st.sampled_from(WEEKDAY_NAMES), min_size=1).map(
            lambda days: ",".join(sorted(days, key=WEEKDAY_NAMES.index))
        ),
    }
)


def brute_force_cadences(lines: pd.DataFrame) -> list[tuple[float, tuple[int, ...]]]:
    """Every truck-day subset of one location's agreed days that leaves no line without a day, with its cost a
    day (one truck: the dearest delivery, plus each line's stock and shortage on the days it agreed to), in the
    order the tie rule prefers: more truck days, then the earlier weekdays."""
    terms = CostTerms.of(lines)
    agreed = [parse_ship_days(days) for days in lines["ship_days"]]
    allowed = sorted(frozenset().union(*agreed))
    delivery = float(np.nan_to_num(lines["shipment_cost"].to_numpy(dtype=float)).max())
    singles = [(lines.iloc[[row]], terms.take(np.array([row]))) for row in range(len(lines))]
    cost_of_line: dict[tuple[int, tuple[int, ...]], float] = {}
    found = []
    for count in range(len(allowed), 0, -1):
        for truck in combinations(allowed, count):
            served = [tuple(day for day in truck if day in days) for days in agreed]
            if not all(served):
                continue
            cost = delivery * count / 7
            for row, days in enumerate(served):
                if (row, days) not in cost_of_line:
                    holding, _, shortage = expected_daily_cost(*singles[row], days)
                    cost_of_line[row, days] = holding + shortage
                cost += cost_of_line[row, days]
            found.append((cost, truck))
    return found


def assert_brute_force_choice(lines: pd.DataFrame, truck: tuple[int, ...], cost: float) -> None:
    """``truck`` costs no more than any subset, and no subset the tie rule prefers costs as little."""
    candidates = brute_force_cadences(lines)
    best = min(found for found, _ in candidates)
    tolerance = 1e-9 * max(1.0, abs(best))
    assert cost <= best + 2 * tolerance, (truck, cost, best)
    preferred = [(found, days) for found, days in candidates[: [days for _, days in candidates].index(truck)]]
    assert all(found > cost + tolerance / 2 for found, _ in preferred), (truck, cost, preferred)


lane_days = st.sets(st.sampled_from(WEEKDAY_NAMES), min_size=1).map(
    lambda days: ",".join(sorted(days, key=WEEKDAY_NAMES.index))
)


@settings(max_examples=30, deadline=None)
@given(terms=lane_terms, count=st.integers(1, 4), own_days=st.lists(st.one_of(st.none(), lane_days), max_size=4))
def test_the_chosen_cadence_is_the_cheapest_subset_by_brute_force_with_the_tie_rule(terms, count, own_days):
    lines = lane(count, **terms)
    # Some lines agree to days of their own: the truck serves each on the days it agreed to.
    for row, days in enumerate(own_days[:count]):
        if days is not None:
            lines.loc[row, "ship_days"] = days
    cadence = choose_cadence(lines)
    truck = tuple(sorted(frozenset().union(*(parse_ship_days(days) for days in cadence["ship_days"]))))
    cost = cadence["location_cost_per_day"].iloc[0]
    assert_brute_force_choice(lines, truck, cost)
    for chosen, agreed in zip(cadence["ship_days"], lines["ship_days"], strict=True):
        assert parse_ship_days(chosen) == parse_ship_days(agreed) & set(truck)
    per_line = cadence[["holding_cost_per_day", "shipping_cost_per_day", "stockout_cost_per_day"]].to_numpy().sum()
    assert per_line == pytest.approx(cost)


def test_zero_costs_tie_every_subset_and_every_agreed_day_wins():
    lines = lane(2, shipment_cost=0.0, holding_cost_rate=0.0, stockout_penalty_rate=0.0)
    assert choose_ship_days(lines).tolist() == ["Mon,Wed,Fri"] * 2
    assert_brute_force_choice(lines, (0, 2, 4), 0.0)


@pytest.mark.parametrize("shipment_cost", [5.0, 10.0, 20.0])
def test_a_location_keeps_its_previous_cadence_unless_a_change_saves_more_than_the_margin(shipment_cost):
    lines = lane(2, shipment_cost=shipment_cost, holding_cost_rate=1.0, demand_daily_mean=100.0)
    candidates = {days: cost for cost, days in brute_force_cadences(lines)}
    best = min(candidates.values())
    kept = candidates[(0, 2, 4)]
    fresh = choose_cadence(lines)
    remembered = choose_cadence(lines.assign(previous_ship_days=["Mon,Wed,Fri", None]))
    assert fresh["ship_days"].iloc[0] != "Mon,Wed,Fri"
    if best >= kept * (1 - CADENCE_CHANGE_MARGIN):
        assert remembered["ship_days"].tolist() == ["Mon,Wed,Fri"] * 2
        assert remembered["location_cost_per_day"].iloc[0] == pytest.approx(kept)
    else:
        pd.testing.assert_frame_equal(remembered, fresh)
    # A previous cadence that is no longer agreed is not kept.
    gone = choose_cadence(lines.assign(previous_ship_days="Tue"))
    pd.testing.assert_frame_equal(gone, fresh)


def test_the_margin_keeps_a_close_previous_cadence_and_drops_a_dear_one():
    close = lane(2, shipment_cost=5.0, holding_cost_rate=1.0, demand_daily_mean=100.0)
    dear = lane(2, shipment_cost=20.0, holding_cost_rate=1.0, demand_daily_mean=100.0)
    assert choose_cadence(close.assign(previous_ship_days="Mon,Wed,Fri"))["ship_days"].iloc[0] == "Mon,Wed,Fri"
    changed = choose_cadence(dear.assign(previous_ship_days="Mon,Wed,Fri"))["ship_days"].iloc[0]
    assert changed == choose_cadence(dear)["ship_days"].iloc[0] != "Mon,Wed,Fri"
