from datetime import date

import numpy as np
import pandas as pd
import pytest

from forecasts.replenishment.planner_exceptions import (
    ABOVE_MAX_COVER,
    ALLOCATION_SHORTFALL,
    CADENCE_CHANGED,
    CRITICAL,
    DATA_HELD,
    EXCESS_STOCK,
    FORECAST_BIAS,
    INFO,
    LARGE_CHANGE,
    OBSOLETE_STOCK,
    PLANNER_EXCEPTION_COLUMNS,
    STALE_FEED,
    STOCKOUT_WITHIN_LEAD_TIME,
    WARNING,
    PlannerExceptionThresholds,
    find_planner_exceptions,
)
from forecasts.replenishment.policy import plan_replenishment

PLAN_DATE = date(2025, 3, 3)  # a Monday


def input_row(location_id: str, **overrides: object) -> dict:
    # Comfortable by default: 12 days of on-hand against a 5-day lead time, below the 20-day maximum.
    row = {
        "partner_id": "p1",
        "location_id": location_id,
        "product_id": "A",
        "on_hand": 120.0,
        "on_order": 0.0,
        "in_transit": 0.0,
        "committed": 0.0,
        "demand_daily_mean": 10.0,
        "demand_daily_std": 0.0,
        "lead_time_days": 5.0,
        "lead_time_std_days": 0.0,
        "review_period_days": 2.0,
        "service_level": 0.95,
        "min_cover_days": 3.0,
        "max_cover_days": 20.0,
        "case_pack": 6.0,
        "moq": 0.0,
        "ship_days": None,
        "observation_age_days": 0.0,
    }
    return {**row, **overrides}


def plan_of(*rows: dict, supplier_stock: dict | None = None) -> pd.DataFrame:
    return plan_replenishment(pd.DataFrame(list(rows)), PLAN_DATE, supplier_stock=supplier_stock)


def kinds(exceptions: pd.DataFrame) -> list[tuple[str, str, str]]:
    return list(exceptions[["location_id", "exception_type", "severity"]].itertuples(index=False, name=None))


def test_a_comfortable_line_has_no_exception():
    exceptions = find_planner_exceptions(plan_of(input_row("L1")))
    assert exceptions.empty
    assert list(exceptions.columns) == PLANNER_EXCEPTION_COLUMNS


def test_each_kind_of_line_problem_is_found_once():
    plan = plan_of(
        input_row("L1", on_hand=20.0),  # 2 days of stock, receipt after 5
        input_row("L2", on_hand=250.0),  # 25 days > max 20
        input_row("L3", on_hand=500.0),  # 50 days > 2 x 20
        input_row("L4", demand_daily_mean=0.0, on_hand=7.0),
        input_row("L5", observation_age_days=6.0),
    )
    exceptions = find_planner_exceptions(plan)
    assert kinds(exceptions) == [
        ("L1", STOCKOUT_WITHIN_LEAD_TIME, CRITICAL),
        ("L2", ABOVE_MAX_COVER, INFO),
        ("L3", EXCESS_STOCK, WARNING),
        ("L4", OBSOLETE_STOCK, WARNING),
        ("L5", STALE_FEED, WARNING),
    ]
    details = dict(zip(exceptions["location_id"], exceptions["detail"], strict=True))
    assert details["L1"] == (
        "on hand 20 covers 2.0 days (stock-out 2025-03-05); a shipment on 2025-03-04 is received 2025-03-09"
    )
    assert details["L2"] == "25.0 days of cover on the ship date, agreed max 20"
    assert details["L5"] == "stock last counted 6 days before the plan date (limit 3); line held"
    assert (exceptions["plan_date"] == pd.Timestamp(PLAN_DATE)).all()
    assert set(exceptions["partner_id"]) == {"p1"}


def test_a_shipment_forced_above_max_cover_by_the_moq_is_reported_with_it():
    plan = plan_of(input_row("L1", on_hand=0.0, demand_daily_mean=0.5, moq=48.0))
    exceptions = find_planner_exceptions(plan)
    assert plan["ship_qty"].tolist() == [48]
    assert kinds(exceptions) == [("L1", STOCKOUT_WITHIN_LEAD_TIME, CRITICAL), ("L1", EXCESS_STOCK, WARNING)]
    assert "includes a shipment of 48 (MOQ / case pack)" in exceptions["detail"].iloc[1]


def test_held_data_and_allocation_shortfall_are_exceptions():
    plan = plan_of(
        input_row("L1", data_gate_status="held"),
        input_row("L2", on_hand=40.0, data_gate_status="pass"),
        supplier_stock={"A": 6.0},
    )
    exceptions = find_planner_exceptions(plan)
    assert (DATA_HELD, "L1") in set(zip(exceptions["exception_type"], exceptions["location_id"], strict=True))
    shortfall = exceptions[exceptions["exception_type"] == ALLOCATION_SHORTFALL]
    assert shortfall["detail"].tolist() == ["allocated 6 of 30: our stock is short"]


def test_forecast_bias_per_partner_and_per_series():
    plan = plan_of(input_row("L1"), input_row("L2"), {**input_row("L1"), "partner_id": "p2"})
    per_partner = pd.DataFrame({"partner_id": ["p1", "p2", "not_planned"], "bias": [0.35, -0.1, 0.9]})
    exceptions = find_planner_exceptions(plan, forecast_bias=per_partner)
    assert exceptions[["partner_id", "location_id", "product_id", "exception_type"]].values.tolist() == [
        ["p1", None, None, FORECAST_BIAS]
    ]
    assert exceptions["detail"].tolist() == ["partner forecast bias +35% (tolerance ±20%)"]

    per_series = pd.DataFrame(
        {"partner_id": ["p1", "p1"], "location_id": ["L1", "L2"], "product_id": ["A", "A"], "bias": [-0.25, np.nan]}
    )
    exceptions = find_planner_exceptions(plan, forecast_bias=per_series, thresholds={"forecast_bias_tolerance": 0.1})
    assert kinds(exceptions) == [("L1", FORECAST_BIAS, WARNING)]
    assert exceptions["detail"].tolist() == ["series forecast bias -25% (tolerance ±10%)"]


def test_forecast_bias_must_be_keyed_by_partner_or_series():
    with pytest.raises(ValueError, match="keyed by"):
        find_planner_exceptions(
            plan_of(input_row("L1")),
            forecast_bias=pd.DataFrame({"partner_id": ["p1"], "location_id": ["L1"], "bias": [1]}),
        )


def test_large_change_compares_the_same_shipment_only():
    plan = plan_of(input_row("L1", on_hand=40.0), input_row("L2", on_hand=40.0), input_row("L3", on_hand=40.0))
    assert plan["ship_qty"].tolist() == [30, 30, 30]  # up to 70, in cases of 6
    tomorrow = pd.Timestamp("2025-03-04")
    previous = pd.DataFrame(
        {
            "partner_id": ["p1"] * 3,
            "location_id": ["L1", "L2", "L3"],
            "product_id": ["A"] * 3,
            "ship_qty": [12.0, 24.0, 0.0],
            "allocated_qty": [12.0, 24.0, 0.0],
            "ship_date": [tomorrow, tomorrow, pd.Timestamp("2025-03-03")],
        }
    )
    exceptions = find_planner_exceptions(plan, previous_plan=previous).query("exception_type == @LARGE_CHANGE")
    # L1: 12 → 30 is a large change; L2: 24 → 30 only a fifth; L3 was a different shipment.
    assert kinds(exceptions) == [("L1", LARGE_CHANGE, INFO)]
    assert exceptions["detail"].tolist() == ["ship 30 on 2025-03-04, previous plan 12"]
    # A previous plan from before ship dates were planned is compared line by line.
    older = previous.drop(columns=["ship_date", "allocated_qty"])
    changes = find_planner_exceptions(plan, previous_plan=older).query("exception_type == @LARGE_CHANGE")
    assert changes["location_id"].tolist() == ["L1", "L3"]


def test_thresholds_change_what_is_reported():
    plan = plan_of(input_row("L1", on_hand=500.0), input_row("L2", observation_age_days=2.0))
    strict = PlannerExceptionThresholds(stale_feed_days=1.0, excess_cover_factor=3.0)
    assert kinds(find_planner_exceptions(plan, thresholds=strict)) == [
        ("L1", ABOVE_MAX_COVER, INFO),
        ("L2", STALE_FEED, WARNING),
    ]


def test_output_is_ordered_and_repeatable():
    rows = [input_row(f"L{i}", on_hand=float(on_hand)) for i, on_hand in enumerate([500, 20, 250, 10, 120])]
    plan = plan_of(*rows)
    first = find_planner_exceptions(plan)
    shuffled = find_planner_exceptions(plan.sample(frac=1.0, random_state=3))
    pd.testing.assert_frame_equal(first, shuffled)
    assert first["location_id"].tolist() == sorted(first["location_id"])


def test_plan_without_the_planned_columns_is_refused():
    with pytest.raises(ValueError, match="missing columns: .*ship_date"):
        find_planner_exceptions(plan_of(input_row("L1")).drop(columns=["ship_date"]))


def test_a_location_whose_delivery_days_moved_since_the_previous_plan_is_told():
    costs = {"unit_cost": 4.0, "holding_cost_rate": 0.25, "shipment_cost": 5000.0, "stockout_penalty_rate": 0.5}
    plan = plan_of(
        input_row("L1", ship_days="Mon,Thu", **costs), input_row("L2", ship_days="Mon,Thu"), input_row("L3", **costs)
    )
    chosen = plan["ship_days"].iloc[0]
    previous = plan[["partner_id", "location_id", "product_id", "ship_qty"]].assign(ship_days="Mon,Thu")
    found = find_planner_exceptions(plan, previous_plan=previous).query("exception_type == @CADENCE_CHANGED")
    assert kinds(found) == [("L1", CADENCE_CHANGED, INFO), ("L3", CADENCE_CHANGED, INFO)]
    assert found["detail"].iloc[0].startswith(f"ships {chosen} from now on, the previous plan Mon,Thu")
    unchanged = previous.assign(ship_days=plan["ship_days"].to_numpy())
    assert find_planner_exceptions(plan, previous_plan=unchanged).query("exception_type == @CADENCE_CHANGED").empty
    older = previous.drop(columns=["ship_days"])
    assert find_planner_exceptions(plan, previous_plan=older).query("exception_type == @CADENCE_CHANGED").empty
