from datetime import date, timedelta
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasts.replenishment.policy import (
    ALLOCATION_SHORTFALL,
    BELOW_MIN_COVER,
    BELOW_REORDER_POINT,
    HELD_DATA_FAILED_CHECKS,
    HELD_STALE_FEED,
    INPUT_COLUMNS,
    NO_ACTION,
    NO_DEMAND,
    PLAN_COLUMNS,
    allocate_fairly,
    days_to_next_ship_day,
    demand_std_from_quantiles,
    parse_ship_days,
    plan_replenishment,
    round_ship_qty,
)
from tests.unit.test_costs import assert_brute_force_choice

PLAN_DATE = date(2025, 3, 3)  # a Monday
Z_95 = 1.6448536269514722
TOLERANCE = 1e-6


def input_row(**overrides: object) -> dict:
    row = {
        "partner_id": "p1",
        "location_id": "L1",
        "product_id": "A",
        "on_hand": 40.0,
        "on_order": 10.0,
        "in_transit": 0.0,
        "committed": 5.0,
        "demand_daily_mean": 10.0,
        "demand_daily_std": 4.0,
        "lead_time_days": 5.0,
        "lead_time_std_days": 1.0,
        "review_period_days": 7.0,
        "service_level": 0.95,
        "min_cover_days": 3.0,
        "max_cover_days": 20.0,
        "case_pack": 12.0,
        "moq": 24.0,
    }
    return {**row, **overrides}


def plan_rows(*rows: dict) -> pd.DataFrame:
    return plan_replenishment(pd.DataFrame(list(rows)), PLAN_DATE)


def test_hand_computed_row():
    # No ship days given: ships every day, so the truck leaves the morning after the plan date (k = 1, w = 0)
    # and the next chance to ship is a day later; the agreed review period R = 7 is the longer of the two.
    plan = plan_rows(input_row(lead_time_std_days=0.2))
    row = plan.iloc[0]
    # Risk period w + L + R = 0 + 5 + 7; SS = 1.6449 * sqrt(12 * 4² + 10² * 0.2²) = 1.6449 * sqrt(196).
    safety_stock = Z_95 * 14
    assert list(plan.columns) == PLAN_COLUMNS
    assert row["inventory_position"] == 45
    assert row["ship_date"] == pd.Timestamp("2025-03-04")
    assert row["days_to_ship"] == 1
    assert row["expected_receipt_date"] == pd.Timestamp("2025-03-09")
    assert row["risk_period_days"] == 12
    assert row["lead_time_demand"] == 50
    assert row["safety_stock"] == pytest.approx(safety_stock)
    assert row["reorder_point"] == pytest.approx(120 + safety_stock)
    assert row["order_up_to"] == pytest.approx(120 + safety_stock)
    # 143.03 - 45 = 98.03 units → 9 cases of 12.
    assert row["ship_qty"] == 108
    assert row["allocated_qty"] == 108
    assert not row["allocation_shortfall"]
    assert row["days_of_cover"] == 4
    assert row["days_of_cover_after"] == pytest.approx(15.3)
    assert row["projected_stockout_date"] == pd.Timestamp("2025-03-07")
    assert row["plan_date"] == pd.Timestamp(PLAN_DATE)
    assert bool(row["stockout_within_lead_time"])
    assert row["reason_code"] == BELOW_REORDER_POINT


def test_days_before_the_ship_day_are_covered_too():
    # Planned on Monday for a Thursday lane: w = 2 days sell before the truck leaves, and the next Thursday is
    # 7 days later, so the risk period is 2 + 5 + 7 days and cover is counted from the ship date.
    row = plan_rows(input_row(ship_days="Thu", lead_time_std_days=0.0, demand_daily_std=0.0)).iloc[0]
    assert row["ship_date"] == pd.Timestamp("2025-03-06")
    assert row["days_to_ship"] == 3
    assert row["expected_receipt_date"] == pd.Timestamp("2025-03-11")
    assert row["risk_period_days"] == 14
    assert row["lead_time_demand"] == 70
    assert row["reorder_point"] == 140
    assert row["order_up_to"] == 140
    assert row["ship_qty"] == 96  # 140 - 45 = 95 → 8 cases
    assert row["stockout_within_lead_time"]  # 4 days of on-hand, receipt after 7


def test_review_covers_the_gap_to_the_following_ship_day():
    # Thursday evening, lane Mon/Fri: ships Friday, next chance Monday (3 days) > agreed R = 1.
    row = plan_replenishment(
        pd.DataFrame([input_row(ship_days="mon, FRI", review_period_days=1.0, demand_daily_std=0.0)]),
        date(2025, 3, 6),
    ).iloc[0]
    assert row["ship_date"] == pd.Timestamp("2025-03-07")
    assert row["risk_period_days"] == 0 + 5 + 3


def test_ship_day_calendar():
    assert parse_ship_days("Mon,Wed,Fri") == {0, 2, 4}
    assert parse_ship_days(None) == parse_ship_days("") == parse_ship_days(np.nan) == set(range(7))
    assert days_to_next_ship_day(date(2025, 3, 7), "Mon,Wed,Fri") == 3  # Friday → Monday
    assert days_to_next_ship_day(date(2025, 3, 3), "Mon") == 7  # never the plan date itself
    with pytest.raises(ValueError, match="unknown ship days"):
        parse_ship_days("Mon,Funday")


def test_missing_ship_days_value_means_every_day():
    plan = plan_rows(input_row(ship_days=None), input_row(location_id="L2", ship_days="Wed"))
    assert plan["ship_date"].tolist() == [pd.Timestamp("2025-03-04"), pd.Timestamp("2025-03-05")]


def test_minimum_cover_triggers_a_shipment_above_the_statistical_reorder_point():
    row = plan_rows(input_row(lead_time_std_days=0.2, min_cover_days=20.0, max_cover_days=30.0, on_hand=150.0)).iloc[0]
    # Statistical ROP 143.03 < position 155 <= 20 days of cover; up to 200 → 45 units → 4 cases of 12.
    assert row["reorder_point"] == 200
    assert row["order_up_to"] == 200
    assert row["ship_qty"] == 48
    assert row["reason_code"] == BELOW_MIN_COVER


def test_held_partner_and_stale_feed_ship_nothing():
    plan = plan_rows(
        input_row(data_gate_status="held", observation_age_days=9.0),
        input_row(location_id="L2", data_gate_status="warn", observation_age_days=4.0),
        input_row(location_id="L3", data_gate_status="pass", observation_age_days=3.0),
    )
    assert plan["ship_qty"].tolist() == [0, 0, 108]
    assert plan["reason_code"].tolist() == [HELD_DATA_FAILED_CHECKS, HELD_STALE_FEED, BELOW_REORDER_POINT]
    assert plan["observation_age_days"].tolist() == [9, 4, 3]
    relaxed = plan_replenishment(pd.DataFrame([input_row(observation_age_days=4.0)]), PLAN_DATE, stale_after_days=7)
    assert relaxed["reason_code"].tolist() == [BELOW_REORDER_POINT]


def test_supplier_stock_is_allocated_and_the_plan_says_so():
    plan = plan_replenishment(
        pd.DataFrame([input_row(), input_row(location_id="L2", on_hand=60.0)]), PLAN_DATE, supplier_stock={"A": 96.0}
    )
    assert plan["ship_qty"].tolist() == [108, 84]
    assert plan["allocated_qty"].sum() <= 96
    assert plan["allocation_shortfall"].all()
    assert set(plan["reason_code"]) == {ALLOCATION_SHORTFALL}
    assert plan["days_of_cover_after"].tolist() == pytest.approx(
        ((plan["inventory_position"] + plan["allocated_qty"]) / 10).tolist()
    )


def test_position_above_reorder_point_ships_nothing():
    row = plan_rows(input_row(on_hand=200.0)).iloc[0]
    assert row["inventory_position"] > row["reorder_point"]
    assert row["ship_qty"] == 0
    assert row["reason_code"] == NO_ACTION
    assert not row["stockout_within_lead_time"]


def test_no_demand_ships_nothing_and_never_runs_out():
    # Even a phantom negative count is no reason to ship a product nobody buys.
    row = plan_rows(
        input_row(demand_daily_mean=0.0, demand_daily_std=0.0, on_hand=-5.0, on_order=0.0, committed=0.0)
    ).iloc[0]
    assert row["ship_qty"] == 0
    assert row["reason_code"] == NO_DEMAND
    assert row["days_of_cover"] == np.inf
    assert pd.isna(row["projected_stockout_date"])


def test_order_up_to_is_clipped_to_the_agreed_cover():
    capped = plan_rows(input_row(max_cover_days=8.0)).iloc[0]
    raised = plan_rows(input_row(min_cover_days=30.0, max_cover_days=np.nan)).iloc[0]
    unclipped = plan_rows(input_row(min_cover_days=np.nan, max_cover_days=np.nan, review_period_days=30.0))
    # Cover counts from the ship date: a Wednesday lane planned on Monday adds one day of demand before it.
    capped_later = plan_rows(input_row(max_cover_days=8.0, ship_days="Wed")).iloc[0]
    assert capped["order_up_to"] == 80
    assert raised["order_up_to"] == 300
    assert unclipped.iloc[0]["order_up_to"] > 300
    assert capped_later["order_up_to"] == 90


def test_reorder_point_position_already_at_capped_order_up_to_is_no_action():
    row = plan_rows(input_row(max_cover_days=4.0, on_hand=40.0, on_order=0.0, committed=0.0)).iloc[0]
    assert row["inventory_position"] <= row["reorder_point"]
    assert row["ship_qty"] == 0
    assert row["reason_code"] == NO_ACTION


def test_optional_inputs_default_when_missing():
    row = plan_rows(input_row(on_order=np.nan, in_transit=np.nan, committed=np.nan, moq=np.nan)).iloc[0]
    assert row["inventory_position"] == 40
    assert row["moq"] == 0


def test_missing_columns_are_named():
    inputs = pd.DataFrame([input_row()]).drop(columns=["case_pack", "service_level"])
    with pytest.raises(ValueError, match="missing columns: service_level, case_pack"):
        plan_replenishment(inputs, PLAN_DATE)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"on_hand": np.nan}, "missing values in: on_hand"),
        ({"service_level": 1.0}, "service_level"),
        ({"case_pack": 0.0}, "case_pack"),
        ({"min_cover_days": 30.0}, "min_cover_days exceeds max_cover_days"),
    ],
)
def test_invalid_inputs_are_rejected(overrides, message):
    with pytest.raises(ValueError, match=message):
        plan_rows(input_row(**overrides))


def test_round_ship_qty_by_hand():
    result = round_ship_qty([0, -5, 1, 12, 13, 30, 36.0000000001], case_pack=12, moq=[0, 0, 30, 0, 0, 30, 0])
    assert result.tolist() == [0, 0, 36, 12, 24, 36, 36]


def test_demand_std_from_quantiles():
    np.testing.assert_allclose(demand_std_from_quantiles([10, 5], [10 + NormalDist().inv_cdf(0.9), 4]), [1.0, 0.0])


quantities = st.floats(min_value=0, max_value=1e4, allow_nan=False)
packs = st.sampled_from([1.0, 6.0, 12.0, 24.0, 0.5, 2.5])


@given(st.floats(min_value=-1e4, max_value=1e5), packs, st.floats(min_value=0, max_value=500))
def test_round_ship_qty_properties(raw, case_pack, moq):
    shipped = float(round_ship_qty(raw, case_pack, moq))
    if raw > TOLERANCE * case_pack:
        assert shipped > 0
    if shipped == 0:
        return
    assert raw > 0
    assert shipped >= raw
    assert shipped >= moq - TOLERANCE * case_pack
    assert shipped / case_pack == pytest.approx(round(shipped / case_pack), abs=TOLERANCE)
    assert shipped < max(raw, moq) + case_pack


rows = st.fixed_dictionaries(
    {
        "partner_id": st.just("p1"),
        "location_id": st.sampled_from(["L1", "L2", "L3"]),
        "product_id": st.sampled_from(["A", "B"]),
        "on_hand": st.floats(min_value=-50, max_value=1e4),
        "on_order": quantities,
        "in_transit": quantities,
        "committed": st.floats(min_value=0, max_value=100),
        "demand_daily_mean": st.one_of(st.just(0.0), st.floats(min_value=0, max_value=500)),
        "demand_daily_std": st.floats(min_value=0, max_value=200),
        "lead_time_days": st.floats(min_value=0, max_value=60),
        "lead_time_std_days": st.floats(min_value=0, max_value=10),
        "review_period_days": st.floats(min_value=0, max_value=28),
        "service_level": st.floats(min_value=0.5, max_value=0.999),
        "min_cover_days": st.one_of(st.just(np.nan), st.floats(min_value=0, max_value=10)),
        "max_cover_days": st.one_of(st.just(np.nan), st.floats(min_value=10, max_value=120)),
        "case_pack": packs,
        "moq": st.one_of(st.just(0.0), st.floats(min_value=0, max_value=200)),
        "ship_days": st.sampled_from([None, "Mon", "Mon,Thu", "Mon,Wed,Fri", "Tue,Sat", "Sun", "Mon,Tue,Wed,Thu,Fri"]),
        "observation_age_days": st.sampled_from([0.0, 1.0, 5.0]),
        "data_gate_status": st.sampled_from(["pass", "warn", "held"]),
        "unit_cost": st.floats(min_value=0.5, max_value=20),
        "holding_cost_rate": st.floats(min_value=0.05, max_value=1.0),
        "shipment_cost": st.one_of(st.just(np.nan), st.floats(min_value=0, max_value=3000)),
        "stockout_penalty_rate": st.floats(min_value=0, max_value=2.0),
    }
)
plan_dates = st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))


@settings(deadline=None)
@given(st.lists(rows, min_size=1, max_size=12), plan_dates)
def test_plan_properties(row_dicts, plan_date):
    inputs = pd.DataFrame(row_dicts)
    plan = plan_replenishment(inputs, plan_date)
    ship = plan["ship_qty"].to_numpy()
    demand = plan["demand_daily_mean"].to_numpy()

    assert (ship >= 0).all()
    assert (ship[plan["inventory_position"] > plan["reorder_point"]] == 0).all()
    shipping = ship > 0
    cases = ship[shipping] / plan["case_pack"].to_numpy()[shipping]
    np.testing.assert_allclose(cases, np.round(cases), atol=TOLERANCE)
    assert (ship[shipping] >= plan["moq"].to_numpy()[shipping] - TOLERANCE).all()
    held = inputs["data_gate_status"].eq("held") | (inputs["observation_age_days"] > 3)
    assert (ship[held.to_numpy()] == 0).all()

    for ship_date, chosen, lane in zip(plan["ship_date"], plan["ship_days"], inputs["ship_days"], strict=True):
        assert ship_date.date() > plan_date
        assert ship_date.weekday() in parse_ship_days(chosen) <= parse_ship_days(lane)
        assert (ship_date.date() - plan_date).days <= 7
    # One truck per location, the cheapest subset of the agreed days by brute force (ties: more days, then the
    # earlier weekdays); without a price, every agreed day.
    costed = plan["location_cost_per_day"].notna().to_numpy()
    lines = inputs.assign(ship_days=plan["ship_days_agreed"])[costed]
    for _, location in plan[costed].groupby(["partner_id", "location_id"]):
        assert location["location_cost_per_day"].nunique() == 1
        truck = tuple(sorted(frozenset().union(*(parse_ship_days(days) for days in location["ship_days"]))))
        cost = location["location_cost_per_day"].iloc[0]
        assert_brute_force_choice(lines.loc[location.index].reset_index(drop=True), truck, cost)
    assert (plan["ship_days"] == plan["ship_days_agreed"])[~costed].all()

    # Cover bounds apply on the ship date, after the w = days_to_ship - 1 days of sales before it.
    order_up_to = plan["order_up_to"].to_numpy() - demand * (plan["days_to_ship"].to_numpy() - 1)
    min_cover, max_cover = inputs["min_cover_days"].to_numpy(), inputs["max_cover_days"].to_numpy()
    has_min, has_max = ~np.isnan(min_cover), ~np.isnan(max_cover)
    assert (order_up_to[has_min] >= (demand * min_cover)[has_min] - TOLERANCE).all()
    assert (order_up_to[has_max] <= (demand * max_cover)[has_max] + TOLERANCE).all()

    reasons = plan["reason_code"].to_numpy()
    assert set(reasons[shipping]) <= {BELOW_REORDER_POINT, BELOW_MIN_COVER}
    not_held = ~held.to_numpy() & ~shipping
    expected_idle = np.where(demand == 0, NO_DEMAND, NO_ACTION)
    assert reasons[not_held].tolist() == expected_idle[not_held].tolist()
    assert (plan["allocated_qty"].to_numpy() == ship).all()


def test_allocation_serves_the_lowest_cover_first_in_case_packs():
    plan = pd.DataFrame(
        {
            "product_id": ["A", "A", "B"],
            "inventory_position": [10.0, 50.0, 0.0],
            "demand_daily_mean": [10.0, 10.0, 1.0],
            "ship_qty": [40.0, 40.0, 5.0],
            "case_pack": [10.0, 10.0, 1.0],
            "moq": [0.0, 0.0, 0.0],
            "reason_code": [BELOW_REORDER_POINT] * 3,
        }
    )
    result = allocate_fairly(plan, {"A": 50.0, "B": 100.0})
    # Row 0 (1 day of cover) takes cases until it reaches row 1's 5 days, which then gets what is left.
    assert result["allocated_qty"].tolist() == [40, 10, 5]
    assert result["allocation_shortfall"].tolist() == [False, True, False]
    assert result["reason_code"].tolist() == [BELOW_REORDER_POINT, ALLOCATION_SHORTFALL, BELOW_REORDER_POINT]
    assert result["ship_qty"].tolist() == [40, 40, 5]


def test_allocation_skips_a_row_whose_moq_does_not_fit():
    plan = pd.DataFrame(
        {
            "product_id": ["A", "A"],
            "inventory_position": [0.0, 40.0],
            "demand_daily_mean": [10.0, 10.0],
            "ship_qty": [60.0, 40.0],
            "case_pack": [10.0, 10.0],
            "moq": [30.0, 0.0],
            "reason_code": [BELOW_REORDER_POINT] * 2,
        }
    )
    assert allocate_fairly(plan, {"A": 20.0})["allocated_qty"].tolist() == [0, 20]


def test_allocation_rejects_negative_stock():
    plan = plan_rows(input_row())
    with pytest.raises(ValueError, match="non-negative"):
        allocate_fairly(plan, {"A": -1.0})


@settings(deadline=None)
@given(
    st.lists(rows, min_size=1, max_size=12),
    st.dictionaries(st.sampled_from(["A", "B"]), st.floats(min_value=0, max_value=5000)),
)
def test_allocation_properties(row_dicts, available):
    result = plan_replenishment(pd.DataFrame(row_dicts), PLAN_DATE, supplier_stock=available)
    allocated = result["allocated_qty"].to_numpy()
    assert (allocated >= 0).all()
    assert (allocated <= result["ship_qty"].to_numpy() + TOLERANCE).all()
    cases = allocated / result["case_pack"].to_numpy()
    np.testing.assert_allclose(cases, np.round(cases), atol=TOLERANCE)
    for product, stock in available.items():
        rows_of_product = result["product_id"] == product
        assert allocated[rows_of_product].sum() <= stock + TOLERANCE
        if result.loc[rows_of_product, "ship_qty"].sum() <= stock:
            assert not result.loc[rows_of_product, "allocation_shortfall"].any()
    unconstrained = ~result["product_id"].isin(list(available))
    np.testing.assert_array_equal(allocated[unconstrained], result.loc[unconstrained, "ship_qty"])
    shortfall = result["allocation_shortfall"].to_numpy()
    assert (result["reason_code"].to_numpy()[shortfall] == ALLOCATION_SHORTFALL).all()


def test_current_caller_without_the_new_columns_still_plans():
    plan = plan_replenishment(pd.DataFrame([input_row()], columns=INPUT_COLUMNS), PLAN_DATE)
    assert plan["ship_qty"].tolist() == [108]
    assert plan["observation_age_days"].tolist() == [0]
    assert plan["reason_code"].tolist() == [BELOW_REORDER_POINT]


COSTS = {"unit_cost": 4.0, "holding_cost_rate": 0.25, "shipment_cost": 150.0, "stockout_penalty_rate": 0.5}


def test_a_dear_truck_ships_on_fewer_of_the_agreed_days_and_the_safety_stock_covers_the_longer_wait():
    """Every agreed day (Mon, Wed, Fri) costs three deliveries a week; at 5,000 a delivery one a week is cheaper, so
    the next ship day after Monday's plan is the chosen one and the next chance to ship is a week later."""
    agreed = input_row(ship_days="Mon,Wed,Fri", review_period_days=1.0, lead_time_std_days=0.0)
    lines = [{**agreed, **COSTS, "product_id": product, "shipment_cost": 5000.0} for product in ("A", "B")]
    plan = plan_rows(*lines)
    every_day = plan_replenishment(pd.DataFrame(lines), PLAN_DATE, costed_cadence=False)
    chosen = plan["ship_days"].iloc[0]
    assert len(parse_ship_days(chosen)) == 1 and set(plan["ship_days"]) == {chosen}, "one truck per location"
    assert set(plan["ship_days_agreed"]) == set(every_day["ship_days"]) == {"Mon,Wed,Fri"}
    day = min(parse_ship_days(chosen))
    assert plan["ship_date"].iloc[0].weekday() == day
    assert plan["ship_date"].iloc[0] == pd.Timestamp(PLAN_DATE) + pd.Timedelta(
        days=days_to_next_ship_day(PLAN_DATE, chosen)
    )
    waiting = plan["days_to_ship"].iloc[0] - 1
    assert plan["risk_period_days"].iloc[0] == pytest.approx(waiting + 5.0 + 7.0), "R is the week to the next truck"
    assert plan["safety_stock"].iloc[0] == pytest.approx(Z_95 * 4.0 * np.sqrt(waiting + 12.0))
    assert (plan["safety_stock"] > every_day["safety_stock"]).all()
    location = plan["location_cost_per_day"].iloc[0]
    assert location < plan["location_agreed_cost_per_day"].iloc[0]
    parts = plan[["holding_cost_per_day", "shipping_cost_per_day", "stockout_cost_per_day"]].to_numpy().sum()
    assert parts == pytest.approx(location), "the lines' costs add up to the location's"
    assert plan["shipping_cost_per_day"].tolist() == pytest.approx([5000.0 / 7 / 2] * 2), "the truck's cost is shared"


def test_a_location_without_every_cost_term_ships_on_every_agreed_day_and_a_rerun_plans_the_same():
    costed = {**input_row(ship_days="Mon,Wed,Fri"), **COSTS, "shipment_cost": 5000.0}
    lines = [costed, {**costed, "location_id": "L2"}, {**costed, "location_id": "L2", "product_id": "B"}]
    lines[2]["unit_cost"] = np.nan
    plan = plan_rows(*lines)
    assert len(parse_ship_days(plan["ship_days"].iloc[0])) == 1
    assert plan["ship_days"].iloc[1:].tolist() == ["Mon,Wed,Fri"] * 2
    assert plan[["holding_cost_per_day", "location_cost_per_day"]].iloc[1:].isna().all().all()
    assert plan["ship_date"].iloc[1:].tolist() == [pd.Timestamp("2025-03-05")] * 2, "the next agreed day, Wednesday"
    pd.testing.assert_frame_equal(plan, plan_rows(*lines))
    without_terms = plan_rows(input_row(ship_days="Mon,Wed,Fri"))
    assert (
        without_terms["ship_days"].tolist() == ["Mon,Wed,Fri"] and without_terms["location_cost_per_day"].isna().all()
    )


def test_lines_agreeing_different_days_share_the_truck_on_days_each_of_them_agreed_to():
    costed = {**input_row(), **COSTS, "shipment_cost": 5000.0}
    plan = plan_rows({**costed, "ship_days": "Mon,Wed"}, {**costed, "product_id": "B", "ship_days": "Wed,Fri"})
    assert plan["ship_days"].tolist() == ["Wed", "Wed"], "one truck on the day both lines agreed to"
    assert plan["ship_date"].tolist() == [pd.Timestamp("2025-03-05")] * 2


def flap_line(**overrides) -> pd.DataFrame:
    """One line agreed Mon,Thu whose cheapest cadence flips between Mon,Thu and Mon around 97-98 units a day."""
    row = input_row(
        on_hand=0.0,
        on_order=0.0,
        committed=0.0,
        case_pack=1.0,
        moq=0.0,
        demand_daily_std=4.0,
        lead_time_days=2.0,
        lead_time_std_days=0.0,
        review_period_days=1.0,
        min_cover_days=np.nan,
        max_cover_days=np.nan,
        ship_days="Mon,Thu",
        unit_cost=4.0,
        holding_cost_rate=0.25,
        shipment_cost=3.0,
        stockout_penalty_rate=0.5,
    )
    return pd.DataFrame([row | overrides])


SUNDAY, MONDAY, TUESDAY, THURSDAY = date(2025, 3, 2), date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 6)


def remembered(plan: pd.DataFrame) -> dict:
    return {"previous_ship_days": plan["ship_days"].iloc[0], "previous_ship_date": plan["ship_date"].iloc[0]}


def test_a_forecast_that_moves_a_little_keeps_the_cadence_the_goods_on_the_way_were_sized_for():
    sunday = plan_replenishment(flap_line(demand_daily_mean=98.0), SUNDAY)
    assert sunday["ship_days"].iloc[0] == "Mon,Thu" and sunday["ship_date"].iloc[0].date() == MONDAY
    in_transit = float(sunday["ship_qty"].iloc[0])
    # Without memory the Monday evening plan drops Thursday and waits a week.
    forgetful = plan_replenishment(flap_line(demand_daily_mean=97.0, in_transit=in_transit), MONDAY)
    assert forgetful["ship_days"].iloc[0] == "Mon"
    monday = plan_replenishment(flap_line(demand_daily_mean=97.0, in_transit=in_transit, **remembered(sunday)), MONDAY)
    assert monday["ship_days"].iloc[0] == "Mon,Thu" and monday["ship_date"].iloc[0].date() == THURSDAY
    assert monday["risk_period_days"].iloc[0] == 2 + 2 + 4
    # A rerun of the same night with the same previous plan plans the same.
    again = plan_replenishment(flap_line(demand_daily_mean=97.0, in_transit=in_transit, **remembered(sunday)), MONDAY)
    pd.testing.assert_frame_equal(again, monday)


def test_a_cadence_change_that_drops_days_still_ships_on_the_truck_the_previous_plan_promised():
    sunday = plan_replenishment(flap_line(demand_daily_mean=98.0), SUNDAY)
    dear = {"demand_daily_mean": 5.0, "shipment_cost": 500.0, "in_transit": 505.0}
    monday = plan_replenishment(flap_line(**dear, **remembered(sunday)), MONDAY)
    # Dear trucks: Monday only from now on, but Thursday's truck, which Monday's shipment was sized for, still goes.
    assert monday["ship_days"].iloc[0] == "Mon"
    assert monday["ship_date"].iloc[0].date() == THURSDAY and monday["days_to_ship"].iloc[0] == 3
    assert monday["risk_period_days"].iloc[0] == 2 + 2 + 4, "sales Tue-Wed, lead time, Thursday to Monday"
    # The next evenings keep that promise until the truck has gone, then ship on the new cadence.
    tuesday = plan_replenishment(flap_line(**dear, **remembered(monday)), TUESDAY)
    assert tuesday["ship_date"].iloc[0].date() == THURSDAY
    thursday = plan_replenishment(flap_line(**dear, **remembered(tuesday)), THURSDAY)
    assert thursday["ship_date"].iloc[0].date() == date(2025, 3, 10)
    # A previous plan on days the line no longer agrees to promises nothing.
    moved = plan_replenishment(flap_line(**dear, previous_ship_days="Tue", previous_ship_date=TUESDAY), MONDAY)
    assert moved["ship_date"].iloc[0].date() == date(2025, 3, 10)


def promotion_forecast(plan_date: date, days: int = 20) -> pd.DataFrame:
    """10 units a day, 50 on days 7 to 9 after the plan date (a promotion), p90 four units above p50."""
    p50 = [50.0 if 7 <= day <= 9 else 10.0 for day in range(1, days + 1)]
    return pd.DataFrame(
        {
            "partner_id": "p1",
            "location_id": "L1",
            "product_id": "A",
            "forecast_date": [plan_date + pd.Timedelta(days=day) for day in range(1, days + 1)],
            "p50": p50,
            "p90": [value + 4.0 for value in p50],
        }
    )


def test_demand_is_the_forecast_averaged_over_the_risk_period_of_the_chosen_ship_days():
    sunday = date(2025, 3, 2)
    row = input_row(lead_time_days=2.0, lead_time_std_days=0.0, review_period_days=1.0, min_cover_days=np.nan)
    forecast = promotion_forecast(sunday)
    # A weekly truck on Monday: risk period 0 + 2 + 7 = 9 days, so the promotion on days 7-9 counts.
    weekly = plan_replenishment(pd.DataFrame([row | {"ship_days": "Mon"}]), sunday, daily_forecast=forecast)
    assert weekly["risk_period_days"].iloc[0] == 9
    assert weekly["demand_daily_mean"].iloc[0] == pytest.approx((6 * 10 + 3 * 50) / 9)
    assert weekly["demand_daily_std"].iloc[0] == pytest.approx(4.0 / 1.2815515655446004)
    assert weekly["reorder_point"].iloc[0] == pytest.approx(210.0 + weekly["safety_stock"].iloc[0]), (
        "d̄ × 9 days is the forecast over the risk period"
    )
    # Mon,Thu: Monday's shipment lasts to Thursday's, a 5-day risk period before the promotion.
    twice = plan_replenishment(pd.DataFrame([row | {"ship_days": "Mon,Thu"}]), sunday, daily_forecast=forecast)
    assert twice["risk_period_days"].iloc[0] == 5 and twice["demand_daily_mean"].iloc[0] == pytest.approx(10.0)
    # A series the forecast does not cover keeps its input mean.
    other = plan_replenishment(
        pd.DataFrame([row | {"ship_days": "Mon", "product_id": "B"}]), sunday, daily_forecast=forecast
    )
    assert other["demand_daily_mean"].iloc[0] == row["demand_daily_mean"]


def test_the_risk_window_counts_whole_days_after_the_plan_date():
    from forecasts.replenishment.demand_window import demand_over_risk_window

    plan_date = date(2025, 3, 2)
    forecast = promotion_forecast(plan_date, days=8)
    forecast = pd.concat([forecast.assign(forecast_date=pd.Timestamp(plan_date), p50=999.0), forecast])
    keys = pd.DataFrame({"partner_id": ["p1"] * 3, "location_id": ["L1"] * 3, "product_id": ["A", "A", "B"]})
    mean, std = demand_over_risk_window(keys, forecast, plan_date, np.array([6.5, 30.0, 5.0]))
    # 6.5 days: days 1-7; 30 days: the 8 the forecast has; the plan date's own row never counts.
    assert mean[:2].tolist() == pytest.approx([(6 * 10 + 50) / 7, (6 * 10 + 2 * 50) / 8])
    assert np.isnan(mean[2]) and np.isnan(std[2])


def test_the_risk_window_mean_is_the_same_whatever_order_the_forecast_rows_come_in():
    from forecasts.replenishment.demand_window import demand_over_risk_window

    plan_date = date(2025, 3, 2)
    days = pd.date_range(plan_date + timedelta(days=1), periods=3)
    forecast = pd.DataFrame(
        {"partner_id": "p1", "location_id": "L1", "product_id": "A", "forecast_date": days, "p50": [0.1, 0.2, 0.3]}
    ).assign(p90=lambda frame: frame["p50"] * 2)
    keys = forecast[["partner_id", "location_id", "product_id"]].head(1)
    in_order = demand_over_risk_window(keys, forecast, plan_date, np.array([3.0]))
    # Summed last day first, 0.3 + 0.2 + 0.1 is not 0.1 + 0.2 + 0.3 in floating point.
    reversed_rows = demand_over_risk_window(keys, forecast.iloc[::-1], plan_date, np.array([3.0]))
    assert in_order[0][0] == reversed_rows[0][0] and in_order[1][0] == reversed_rows[1][0]
