from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecasts.replenishment import (
    ALLOCATION_SHORTFALL,
    BELOW_REORDER_POINT,
    INPUT_COLUMNS,
    NO_ACTION,
    NO_DEMAND,
    PLAN_COLUMNS,
    allocate_fairly,
    demand_std_from_quantiles,
    plan_replenishment,
    round_ship_qty,
)

PLAN_DATE = date(2025, 3, 3)
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
    plan = plan_rows(input_row())
    row = plan.iloc[0]
    # IP = 40 + 10 + 0 - 5; SS = 1.6449 * sqrt(5 * 4² + 10² * 1²) = 1.6449 * sqrt(180).
    safety_stock = 1.6448536269514722 * np.sqrt(180)
    assert list(plan.columns) == PLAN_COLUMNS
    assert row["inventory_position"] == 45
    assert row["lead_time_demand"] == 50
    assert row["safety_stock"] == pytest.approx(safety_stock)
    assert row["reorder_point"] == pytest.approx(50 + safety_stock)
    assert row["order_up_to"] == pytest.approx(120 + safety_stock)
    # 142.07 - 45 = 97.07 units → 9 cases of 12.
    assert row["ship_qty"] == 108
    assert row["days_of_cover"] == 4
    assert row["days_of_cover_after"] == pytest.approx(15.3)
    assert row["projected_stockout_date"] == pd.Timestamp("2025-03-07")
    assert row["plan_date"] == pd.Timestamp(PLAN_DATE)
    assert bool(row["stockout_within_lead_time"])
    assert row["reason_code"] == BELOW_REORDER_POINT


def test_position_above_reorder_point_ships_nothing():
    row = plan_rows(input_row(on_hand=100.0)).iloc[0]
    assert row["inventory_position"] > row["reorder_point"]
    assert row["ship_qty"] == 0
    assert row["reason_code"] == NO_ACTION
    assert not row["stockout_within_lead_time"]


def test_no_demand_ships_nothing_and_never_runs_out():
    row = plan_rows(
        input_row(demand_daily_mean=0.0, demand_daily_std=0.0, on_hand=0.0, on_order=0.0, committed=0.0)
    ).iloc[0]
    assert row["ship_qty"] == 0
    assert row["reason_code"] == NO_DEMAND
    assert row["days_of_cover"] == np.inf
    assert pd.isna(row["projected_stockout_date"])


def test_order_up_to_is_clipped_to_the_agreed_cover():
    capped = plan_rows(input_row(max_cover_days=8.0)).iloc[0]
    raised = plan_rows(input_row(min_cover_days=30.0, max_cover_days=np.nan)).iloc[0]
    unclipped = plan_rows(input_row(min_cover_days=np.nan, max_cover_days=np.nan, review_period_days=30.0))
    assert capped["order_up_to"] == 80
    assert raised["order_up_to"] == 300
    assert unclipped.iloc[0]["order_up_to"] > 300


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
    np.testing.assert_allclose(demand_std_from_quantiles([10, 5], [10 + 1.2815515655446004, 4]), [1.0, 0.0])


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
    }
)


@settings(deadline=None)
@given(st.lists(rows, min_size=1, max_size=12))
def test_plan_properties(row_dicts):
    inputs = pd.DataFrame(row_dicts, columns=INPUT_COLUMNS)
    plan = plan_replenishment(inputs, PLAN_DATE)
    ship = plan["ship_qty"].to_numpy()
    demand = plan["demand_daily_mean"].to_numpy()

    assert (ship >= 0).all()
    assert (ship[plan["inventory_position"] > plan["reorder_point"]] == 0).all()
    shipping = ship > 0
    cases = ship[shipping] / plan["case_pack"].to_numpy()[shipping]
    np.testing.assert_allclose(cases, np.round(cases), atol=TOLERANCE)
    assert (ship[shipping] >= plan["moq"].to_numpy()[shipping] - TOLERANCE).all()

    order_up_to = plan["order_up_to"].to_numpy()
    min_cover, max_cover = inputs["min_cover_days"].to_numpy(), inputs["max_cover_days"].to_numpy()
    has_min, has_max = ~np.isnan(min_cover), ~np.isnan(max_cover)
    assert (order_up_to[has_min] >= (demand * min_cover)[has_min] - TOLERANCE).all()
    assert (order_up_to[has_max] <= (demand * max_cover)[has_max] + TOLERANCE).all()

    expected_reason = np.where(shipping, BELOW_REORDER_POINT, np.where(demand == 0, NO_DEMAND, NO_ACTION))
    assert plan["reason_code"].tolist() == expected_reason.tolist()


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
    plan = plan_replenishment(pd.DataFrame(row_dicts, columns=INPUT_COLUMNS), PLAN_DATE)
    result = allocate_fairly(plan, available)
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
