"""Projected on hand without and with the planned shipment, and the plot the plan's materialization carries."""

from __future__ import annotations

import base64
import re
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from assets.renderers.plots import inventory_projection_plot
from forecasts.replenishment.policy import PROJECTION_COLUMNS, plan_replenishment, project_on_hand
from forecasts.replenishment.projection import project_lines, projection_lines

PLAN_DATE = date(2025, 6, 30)


def test_stock_falls_by_the_demand_and_stops_at_zero():
    projection = project_on_hand(PLAN_DATE, 10, [3, 3, 3, 3, 3])
    assert list(projection.columns) == PROJECTION_COLUMNS
    assert projection["date"].iloc[0] == pd.Timestamp("2025-07-01")
    assert projection["on_hand_without_shipment"].tolist() == [7, 4, 1, 0, 0]
    assert projection["on_hand_with_shipment"].tolist() == [7, 4, 1, 0, 0]


def test_the_shipment_arrives_on_its_receipt_date_and_is_sold_that_day():
    projection = project_on_hand(
        PLAN_DATE, 10, [3, 3, 3, 3, 3], shipment_qty=12, shipment_receipt_date=PLAN_DATE + timedelta(days=4)
    )
    assert projection["on_hand_without_shipment"].tolist() == [7, 4, 1, 0, 0]
    # Day 4: 1 left + 12 received − 3 sold; the lost sale of day 4 without the shipment is a sale with it.
    assert projection["on_hand_with_shipment"].tolist() == [7, 4, 1, 10, 7]


def test_shipments_already_in_transit_arrive_in_both_projections():
    projection = project_on_hand(
        PLAN_DATE,
        2,
        [2, 2, 2],
        receipts=[0, 5, 0],
        shipment_qty=4,
        shipment_receipt_date=PLAN_DATE + timedelta(days=3),
    )
    assert projection["on_hand_without_shipment"].tolist() == [0, 3, 1]
    assert projection["on_hand_with_shipment"].tolist() == [0, 3, 5]


def test_a_shipment_arriving_after_the_horizon_changes_nothing_in_it():
    projection = project_on_hand(PLAN_DATE, 5, [1] * 7, shipment_qty=30, shipment_receipt_date=date(2025, 8, 1))
    assert (projection["on_hand_with_shipment"] == projection["on_hand_without_shipment"]).all()


def test_a_negative_count_starts_from_nothing_on_hand():
    projection = project_on_hand(PLAN_DATE, -4, [1, 1], receipts=[3, 0])
    assert projection["on_hand_without_shipment"].tolist() == [2, 1]


def test_inconsistent_inputs_are_refused():
    with pytest.raises(ValueError, match="receipts cover"):
        project_on_hand(PLAN_DATE, 5, [1, 1, 1], receipts=[0, 0])
    with pytest.raises(ValueError, match="on or before the plan date"):
        project_on_hand(PLAN_DATE, 5, [1, 1], shipment_qty=3, shipment_receipt_date=PLAN_DATE)
    with pytest.raises(ValueError, match="flat series"):
        project_on_hand(PLAN_DATE, 5, [1.0, float("nan")])


@given(
    on_hand=st.floats(min_value=-50, max_value=500),
    demand=st.lists(st.floats(min_value=0, max_value=40), min_size=1, max_size=28),
    shipment=st.floats(min_value=0, max_value=300),
    arrives_after=st.integers(min_value=1, max_value=35),
)
def test_shipping_never_leaves_less_on_hand_and_stock_is_never_negative(on_hand, demand, shipment, arrives_after):
    projection = project_on_hand(
        PLAN_DATE,
        on_hand,
        demand,
        shipment_qty=shipment,
        shipment_receipt_date=PLAN_DATE + timedelta(days=arrives_after),
    )
    without = projection["on_hand_without_shipment"].to_numpy()
    with_shipment = projection["on_hand_with_shipment"].to_numpy()
    assert (without >= 0).all()
    assert (with_shipment >= without - 1e-9).all()
    assert (np.diff(without) <= 1e-9).all(), "without receipts stock only falls"
    before = arrives_after - 1
    assert np.allclose(with_shipment[:before], without[:before]), "nothing changes before the shipment arrives"


def planned_lines() -> pd.DataFrame:
    inputs = pd.DataFrame(
        {
            "partner_id": ["p1", "p1", "p2"],
            "location_id": ["s1", "s2", "s1"],
            "product_id": ["A", "A", "B"],
            "on_hand": [4.0, 60.0, 9.0],
            "on_order": 0.0,
            "in_transit": [0.0, 0.0, 10.0],
            "committed": 0.0,
            "demand_daily_mean": [3.0, 2.0, 2.0],
            "demand_daily_std": [1.0, 1.0, 1.0],
            "lead_time_days": 3.0,
            "lead_time_std_days": 0.5,
            "review_period_days": 7.0,
            "service_level": 0.95,
            "min_cover_days": np.nan,
            "max_cover_days": np.nan,
            "case_pack": 6.0,
            "moq": 0.0,
        }
    )
    return plan_replenishment(inputs, PLAN_DATE)


def test_the_plot_shows_the_shipping_lines_that_run_out_first():
    plan = planned_lines()
    lines = projection_lines(plan)
    assert (lines["allocated_qty"] > 0).all()
    assert lines["projected_stockout_date"].is_monotonic_increasing
    assert ("p1", "s2", "A") not in set(lines[["partner_id", "location_id", "product_id"]].itertuples(index=False))


def test_the_plan_lines_are_projected_from_their_forecast_and_rendered_as_a_png():
    plan = planned_lines()
    lines = projection_lines(plan)
    days = pd.date_range("2025-07-01", periods=28, freq="D")
    demand = pd.DataFrame(
        [(p, loc, prod, day, 3.0) for p, loc, prod in [("p1", "s1", "A"), ("p2", "s1", "B")] for day in days],
        columns=["partner_id", "location_id", "product_id", "forecast_date", "p50"],
    )
    receipts = pd.DataFrame(
        [("p2", "s1", "B", pd.Timestamp("2025-07-02"), 10.0)],
        columns=["partner_id", "location_id", "product_id", "receipt_date", "qty"],
    )
    projections = project_lines(lines, demand, receipts, PLAN_DATE, horizon=28)
    assert [len(projection) for projection in projections] == [28] * len(lines)
    by_key = dict(zip(lines[["partner_id", "product_id"]].itertuples(index=False, name=None), projections, strict=True))
    assert by_key[("p2", "B")]["receipts"].sum() == 10
    first = lines.iloc[0]
    arrived = by_key[(first.partner_id, first.product_id)].set_index("date")
    receipt = pd.Timestamp(first.expected_receipt_date)
    gained = arrived.loc[receipt, "on_hand_with_shipment"] - arrived.loc[receipt, "on_hand_without_shipment"]
    assert 0 < gained <= first.allocated_qty

    markdown = inventory_projection_plot(lines, projections)
    png = base64.b64decode(re.fullmatch(r"!\[plot\]\(data:image/png;base64,(.+)\)", markdown).group(1))
    assert png.startswith(b"\x89PNG")
