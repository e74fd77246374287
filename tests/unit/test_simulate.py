import json
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from forecasts.replenishment.policy import parse_ship_days, plan_replenishment
from forecasts.replenishment.replay import (
    TRAILING_DAYS,
    ReplayData,
    _policy_rule,
    default_start,
    last_sales_date,
    load_replay_data,
    replay_policies,
)
from orchestration.cli import main

START = date(2025, 3, 2)  # a Sunday evening; the replay starts on Monday
KEYS = ["partner_id", "location_id", "product_id"]


def terms(partner_id: str, location_id: str, **overrides: object) -> dict:
    row = {
        "partner_id": partner_id,
        "location_id": location_id,
        "product_id": "A",
        "lead_time_days": 3.0,
        "lead_time_std_days": 0.5,
        "review_period_days": 2.0,
        "service_level": 0.95,
        "min_cover_days": 4.0,
        "max_cover_days": 14.0,
        "case_pack": 6.0,
        "moq": 0.0,
        "ship_days": "Mon,Wed,Fri",
    }
    return {**row, **overrides}


def replay_data(
    policy: list[dict],
    demand: np.ndarray,
    opening: list[float],
    start: date = START,
    censored: np.ndarray | None = None,
    in_transit: pd.DataFrame | None = None,
) -> ReplayData:
    """Sales of ``demand`` (series × day, from ``start - 27`` on) and the opening stock per series."""
    policy_frame = pd.DataFrame(policy)
    dates = pd.date_range(start - timedelta(days=TRAILING_DAYS - 1), periods=demand.shape[1]).date
    sales = pd.concat(
        [
            policy_frame[KEYS]
            .iloc[[row]]
            .merge(
                pd.DataFrame(
                    {
                        "sales_date": dates,
                        "units_sold": demand[row],
                        "is_stockout": False if censored is None else censored[row],
                    }
                ),
                how="cross",
            )
            for row in range(len(policy))
        ],
        ignore_index=True,
    )
    return ReplayData(
        policy=policy_frame,
        sales=sales,
        opening_stock=policy_frame[KEYS].assign(on_hand=opening),
        in_transit=in_transit
        if in_transit is not None
        else pd.DataFrame(columns=[*KEYS, "ship_date", "expected_receipt_date", "qty"]),
    )


@pytest.fixture(scope="module")
def stationary() -> ReplayData:
    rng = np.random.default_rng(11)
    policy = [terms("p1", "L1"), terms("p1", "L2", lead_time_days=2.0), terms("p2", "S1", service_level=0.9)]
    policy.append(terms("p2", "S2", ship_days="Tue", review_period_days=7.0, min_cover_days=9.0, max_cover_days=20.0))
    demand = rng.poisson(8.0, size=(len(policy), TRAILING_DAYS + 84)).astype(float)
    return replay_data(policy, demand, opening=[60.0] * len(policy))


def test_policy_meets_its_target_on_stationary_demand_with_less_stock_than_the_baseline(stationary):
    report = replay_policies(stationary, START, 84)
    assert report.series == 4
    assert report.first_day == date(2025, 3, 3)
    assert report.last_day == date(2025, 5, 25)
    assert report.policy.units_demanded == report.baseline.units_demanded
    assert report.policy.fill_rate >= report.target_service_level
    assert report.policy.avg_inventory_units < report.baseline.avg_inventory_units
    for partner in report.by_partner:
        assert partner.policy.fill_rate >= partner.target_service_level
    assert [partner.partner_id for partner in report.by_partner] == ["p1", "p2"]
    assert sum(partner.policy.shipments for partner in report.by_partner) == report.policy.shipments


def test_same_seed_same_replay(stationary):
    assert replay_policies(stationary, START, 30, seed=3) == replay_policies(stationary, START, 30, seed=3)


def test_in_transit_stock_arrives_on_its_receipt_date_and_nothing_ships_without_demand():
    in_transit = pd.DataFrame(
        {
            "partner_id": ["p1", "p1"],
            "location_id": ["L1", "L1"],
            "product_id": ["A", "A"],
            "ship_date": [START - timedelta(days=1), START],
            "expected_receipt_date": [START + timedelta(days=3), START + timedelta(days=30)],
            "qty": [20.0, 99.0],
        }
    )
    data = replay_data([terms("p1", "L1")], np.zeros((1, TRAILING_DAYS + 5)), [10.0], in_transit=in_transit)
    report = replay_policies(data, START, 5)
    for outcome in (report.policy, report.baseline):
        # End-of-day stock 10, 10, 30, 30, 30; the second shipment lands after the window.
        assert outcome.avg_inventory_units == 22
        assert outcome.shipments == 0
        assert outcome.stockout_days == 0
        assert np.isnan(outcome.fill_rate)
    assert report.to_dict()["policy"]["fill_rate"] is None


def test_stock_out_days_count_the_in_stock_average_as_demand():
    sold = np.full((1, TRAILING_DAYS + 2), 4.0)
    sold[0, TRAILING_DAYS:] = [1.0, 6.0]
    censored = np.zeros_like(sold, dtype=bool)
    censored[0, TRAILING_DAYS] = True
    data = replay_data([terms("p1", "L1")], sold, [100.0], censored=censored)
    report = replay_policies(data, START, 2)
    # Day 1 sold 1 while out of stock, so its demand is the in-stock average 4; day 2 sold 6.
    assert report.policy.units_demanded == 10
    assert report.policy.units_served == 10
    assert report.policy.fill_rate == 1


def test_unmet_demand_is_lost_and_counted():
    data = replay_data([terms("p1", "L1", lead_time_std_days=0.0)], np.full((1, TRAILING_DAYS + 3), 5.0), [7.0])
    report = replay_policies(data, START, 3)
    # Monday morning's shipment arrives on Thursday: 7 units serve day 1 (5) and part of day 2 (2 of 5).
    assert report.policy.units_served == 7
    assert report.policy.stockout_days == 2
    assert report.policy.fill_rate == pytest.approx(7 / 15)


def test_replay_needs_sales_for_every_day(stationary):
    with pytest.raises(ValueError, match="needs sales up to 2025-05-27"):
        replay_policies(stationary, START, 86)
    with pytest.raises(ValueError, match="at least 1"):
        replay_policies(stationary, START, 0)


def write_marts(path: str, data: ReplayData) -> None:
    """A warehouse with the marts the replay reads; the opening stock is the count on every sales date."""
    inventory = data.opening_stock.rename(columns={"on_hand": "on_hand_qty"}).merge(
        pd.DataFrame({"inventory_date": data.sales["sales_date"].unique()}), how="cross"
    )
    with duckdb.connect(path) as conn:
        conn.execute("create schema marts")
        tables = {
            "replenishment_policy": data.policy,
            "fct_sales_daily": data.sales,
            "fct_inventory_daily": inventory,
            "fct_shipments": data.in_transit.astype({"qty": float}),
        }
        for name, frame in tables.items():
            conn.register("frame", frame)
            conn.execute(f"create table marts.{name} as select * from frame")
            conn.unregister("frame")


def test_load_replay_data_reads_the_window_and_what_is_on_the_road(stationary, tmp_path):
    in_transit = pd.DataFrame(
        {
            "partner_id": ["p1"] * 4,
            "location_id": ["L1"] * 4,
            "product_id": ["A"] * 4,
            "ship_date": pd.to_datetime([START - timedelta(days=9), START - timedelta(days=1), START, START]).date,
            "expected_receipt_date": pd.to_datetime(
                [START - timedelta(days=5), START + timedelta(days=2), START, None]
            ).date,
            "qty": [1.0, 2.0, 3.0, 4.0],
        }
    )
    data = ReplayData(stationary.policy, stationary.sales, stationary.opening_stock, in_transit)
    path = str(tmp_path / "warehouse.duckdb")
    write_marts(path, data)
    with duckdb.connect(path, read_only=True) as conn:
        assert last_sales_date(conn) == START + timedelta(days=84)
        loaded = load_replay_data(conn, START, 10)
    assert default_start(START + timedelta(days=84)) == START - timedelta(days=7)
    assert loaded.in_transit["qty"].tolist() == [2.0, 4.0]
    sales_dates = pd.to_datetime(loaded.sales["sales_date"])
    assert sales_dates.min() == pd.Timestamp(START - timedelta(days=TRAILING_DAYS - 1))
    assert sales_dates.max() == pd.Timestamp(START + timedelta(days=10))
    assert len(loaded.opening_stock) == 4


def test_cmi_simulate_prints_a_table_or_json(stationary, tmp_path, capsys):
    path = str(tmp_path / "warehouse.duckdb")
    write_marts(path, stationary)
    assert main(["simulate", "--warehouse", path, "--days", "30", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["replay"]["start"] == "2025-04-24"  # 31 days before the last sales date
    for rule in ("policy", "costed", "baseline"):
        assert {"fill_rate", "stockout_days", "avg_inventory_units", "shipments", "total_cost"} <= set(result[rule])
        assert 0 <= result[rule]["fill_rate"] <= 1

    assert main(["simulate", "--warehouse", path, "--days", "30", "--start", "2025-04-20"]) == 0
    table = capsys.readouterr().out
    assert "Policy replay 2025-04-21 to 2025-05-20" in table
    assert "baseline" in table and "costed" in table and "total cost" in table
    assert "4 series have no cost terms and cost nothing" in table


def test_cmi_simulate_explains_what_it_cannot_do(tmp_path, capsys):
    assert main(["simulate", "--warehouse", str(tmp_path / "missing.duckdb")]) == 1
    assert "no warehouse" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--help"])
    assert exit_info.value.code == 0
    assert "usage: cmi simulate" in capsys.readouterr().out


def with_costs(data: ReplayData, **costs: float) -> ReplayData:
    terms = {"unit_cost": 4.0, "holding_cost_rate": 0.25, "shipment_cost": 150.0, "stockout_penalty_rate": 0.5}
    return ReplayData(data.policy.assign(**(terms | costs)), data.sales, data.opening_stock, data.in_transit)


def test_costs_are_holding_shipping_and_stockouts_priced_by_the_agreements(stationary):
    report = replay_policies(with_costs(stationary), START, 84)
    policy = report.policy
    assert report.uncosted_series == 0 and report.lanes == 4
    assert policy.holding_cost == pytest.approx(policy.avg_inventory_units * 84 * 4.0 * 0.25 / 365)
    assert policy.shipping_cost == pytest.approx(policy.deliveries * 150.0)
    assert policy.stockout_cost == pytest.approx((policy.units_demanded - policy.units_served) * 4.0 * 0.5)
    assert policy.deliveries <= policy.shipments, "one line per location here: a delivery is a shipment"
    for rule in ("policy", "costed", "baseline"):
        outcomes = [getattr(partner, rule) for partner in report.by_partner]
        assert sum(outcome.total_cost for outcome in outcomes) == pytest.approx(getattr(report, rule).total_cost)
    assert report.to_dict()["costed"]["total_cost"] == pytest.approx(report.costed.total_cost)


def test_a_dear_delivery_makes_the_costed_policy_ship_less_often_for_less_money(stationary):
    report = replay_policies(with_costs(stationary, shipment_cost=2000.0), START, 84)
    assert report.lanes_on_fewer_days == 3, "the lane shipping on Tuesdays only has nothing to thin"
    assert report.costed.deliveries < report.policy.deliveries
    assert report.costed.total_cost < report.policy.total_cost
    assert report.costed.fill_rate >= report.target_service_level


def test_without_cost_terms_nothing_is_costed_and_the_costed_policy_is_the_policy(stationary):
    report = replay_policies(stationary, START, 30)
    assert report.uncosted_series == report.series
    assert report.policy.total_cost == 0.0
    assert report.costed == report.policy and report.lanes_on_fewer_days == 0


def test_the_costed_rule_of_the_replay_is_the_nightly_plan(stationary):
    """Each evening the replay ships what the nightly plan made from the same figures dates for the next morning, so
    every location ships only on the weekday its costed cadence chose."""
    policy = with_costs(stationary, shipment_cost=2000.0).policy
    decide = _policy_rule(policy, costed_cadence=True)
    sales, censored = np.full((len(policy), TRAILING_DAYS), 8.0), np.zeros((len(policy), TRAILING_DAYS), dtype=bool)
    on_hand, in_transit = np.full(len(policy), 5.0), np.zeros(len(policy))
    shipped_on = {location: set() for location in policy["location_id"]}
    for offset in range(7):
        evening = START + timedelta(days=offset)
        shipped = decide(evening, on_hand, in_transit, sales, censored)
        nightly = plan_replenishment(
            policy.assign(on_hand=5.0, on_order=0.0, in_transit=0.0, committed=0.0).assign(
                demand_daily_mean=8.0, demand_daily_std=0.0
            ),
            evening,
        )
        tomorrow = nightly["ship_date"] == pd.Timestamp(evening + timedelta(days=1))
        assert shipped.tolist() == np.where(tomorrow, nightly["allocated_qty"], 0.0).tolist()
        for location, quantity in zip(policy["location_id"], shipped, strict=True):
            if quantity > 0:
                shipped_on[location].add((evening + timedelta(days=1)).weekday())
        chosen = dict(zip(policy["location_id"], nightly["ship_days"], strict=True))
    assert all(days == parse_ship_days(chosen[location]) for location, days in shipped_on.items())
    assert all(len(days) == 1 for days in shipped_on.values()), "a delivery this dear: one truck a week"


def test_the_replay_remembers_the_previous_evenings_cadence_as_the_nightly_does():
    """Sunday's forecast ships Mon,Thu; Monday's, a unit lower, would alone choose Monday only: the replay keeps
    Mon,Thu as the nightly plan does with the plan of the night before."""
    policy = pd.DataFrame(
        [
            terms(
                "p1",
                "L1",
                ship_days="Mon,Thu",
                lead_time_days=2.0,
                lead_time_std_days=0.0,
                review_period_days=1.0,
                min_cover_days=np.nan,
                max_cover_days=np.nan,
                case_pack=1.0,
                unit_cost=4.0,
                holding_cost_rate=0.25,
                shipment_cost=3.0,
                stockout_penalty_rate=0.5,
            )
        ]
    )
    noise = np.random.default_rng(1).normal(0.0, 4.0, TRAILING_DAYS)
    censored = np.zeros((1, TRAILING_DAYS), dtype=bool)
    empty = np.zeros(1)
    evenings = [(START, 97.0), (START + timedelta(days=1), 96.0)]
    fewer_days: list[np.ndarray] = []
    decide = _policy_rule(policy, costed_cadence=True, fewer_days=fewer_days)
    for evening, level in evenings:
        decide(evening, empty, empty, (level + noise)[None, :], censored)
    forgetful: list[np.ndarray] = []
    monday = _policy_rule(policy, costed_cadence=True, fewer_days=forgetful)
    monday(evenings[1][0], empty, empty, (evenings[1][1] + noise)[None, :], censored)
    assert [fewer.tolist() for fewer in fewer_days] == [[False], [False]]
    assert forgetful[0].tolist() == [True]
