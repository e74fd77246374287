"""Plans costed in money: the cost terms, the expected cost of a cadence, and the cadence each lane is given."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasts.replenishment.costs import (
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


@settings(max_examples=60, deadline=None)
@given(terms=lane_terms, count=st.integers(1, 4))
def test_the_chosen_cadence_never_costs_more_a_day_than_every_agreed_day(terms, count):
    lines = lane(count, **terms)
    cadence = choose_cadence(lines)
    agreed = tuple(sorted(parse_ship_days(terms["ship_days"])))
    chosen = tuple(sorted(parse_ship_days(cadence["ship_days"].iloc[0])))
    cost_terms = CostTerms.of(lines)
    assert set(chosen) <= set(agreed) and cadence["ship_days"].nunique() == 1
    assert (
        sum(expected_daily_cost(lines, cost_terms, chosen))
        <= sum(expected_daily_cost(lines, cost_terms, agreed)) + 1e-9
    )
    assert cadence["location_cost_per_day"].iloc[0] == pytest.approx(
        sum(expected_daily_cost(lines, cost_terms, chosen))
    )
    assert cadence["location_agreed_cost_per_day"].iloc[0] == pytest.approx(
        sum(expected_daily_cost(lines, cost_terms, agreed))
    )
    per_line = cadence[["holding_cost_per_day", "shipping_cost_per_day", "stockout_cost_per_day"]].to_numpy().sum()
    assert per_line == pytest.approx(cadence["location_cost_per_day"].iloc[0])
