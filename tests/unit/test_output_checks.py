"""The invariants of a night's plan, forecast, data gate and exports (the rules behind their Dagster asset checks)."""

from datetime import date, timedelta

import pandas as pd
import pytest

from expectations.output_checks import describe_failures, export_rules, forecast_rules, gate_rules, plan_rules


def _plan(**overrides) -> pd.DataFrame:
    rows = {
        "partner_id": ["p1", "p1", "p2"],
        "location_id": ["L1", "L2", "M1"],
        "product_id": ["A", "A", "A"],
        "ship_qty": [24.0, 0.0, 12.0],
        "allocated_qty": [12.0, 0.0, 12.0],
        "safety_stock": [3.0, 2.0, 1.0],
        "reorder_point": [10.0, 5.0, 4.0],
        "order_up_to": [30.0, 9.0, 12.0],
        "case_pack": [6.0, 6.0, 12.0],
        "moq": [12.0, 12.0, 0.0],
    }
    frame = pd.DataFrame(rows)
    for column, value in overrides.items():
        frame[column] = value
    return frame


def _by_rule(results) -> dict:
    return {result.rule: result for result in results}


def test_a_sound_plan_keeps_every_rule():
    results = plan_rules(_plan())
    assert all(result.passed for result in results), describe_failures(results)


@pytest.mark.parametrize(
    ("column", "values", "rule"),
    [
        ("allocated_qty", [30.0, 0.0, 12.0], "allocated_within_need"),
        ("ship_qty", [24.0, -6.0, 12.0], "no_negative_quantities"),
        ("location_id", ["L1", "L1", "M1"], "one_row_per_location_product"),
        ("ship_qty", [25.0, 0.0, 12.0], "whole_case_packs_and_moq"),  # not a whole case pack
        ("allocated_qty", [6.0, 0.0, 12.0], "whole_case_packs_and_moq"),  # one case, below the MOQ of 12
    ],
)
def test_a_broken_plan_fails_the_rule_it_breaks(column, values, rule):
    results = _by_rule(plan_rules(_plan(**{column: values})))
    assert not results[rule].passed
    assert results[rule].failures >= 1
    assert rule in describe_failures(list(results.values()))


def _forecast(as_of: date, days: int = 3, series=("s1", "s2")) -> pd.DataFrame:
    rows = [
        {"series_id": s, "forecast_date": as_of + timedelta(days=d), "p50": 2.0, "p90": 3.0}
        for s in series
        for d in range(1, days + 1)
    ]
    return pd.DataFrame(rows)


def test_forecast_rules_hold_for_ordered_quantiles_over_the_whole_horizon():
    as_of = date(2025, 6, 30)
    assert all(result.passed for result in forecast_rules(_forecast(as_of), as_of, 3))


def test_forecast_rules_catch_crossed_quantiles_and_a_short_series():
    as_of = date(2025, 6, 30)
    forecast = _forecast(as_of)
    forecast.loc[0, "p90"] = 1.0  # p90 below p50
    forecast = forecast.drop(index=5)  # s2 loses its last day
    results = _by_rule(forecast_rules(forecast, as_of, 3))
    assert results["quantiles_ordered"].failures == 1
    short = results["horizon_complete"].offending
    assert short["series_id"].tolist() == ["s2"] and short["missing_days"].tolist() == [1]


def test_gate_rules_want_one_known_row_per_checked_partner():
    gate = pd.DataFrame({"partner_id": ["p1", "p1", "p3"], "status": ["pass", "warn", "maybe"]})
    results = _by_rule(gate_rules(gate, ["p1", "p2", "p3"]))
    assert results["one_row_per_partner"].failures == 2
    assert results["every_checked_partner_gated"].offending["partner_id"].tolist() == ["p2"]
    assert results["known_status"].failures == 1
    good = pd.DataFrame({"partner_id": ["p1", "p2"], "status": ["pass", "held"]})
    assert all(result.passed for result in gate_rules(good, ["p1", "p2"]))


def test_export_rules_want_each_partners_rows_in_its_own_file_only():
    plan = _plan()
    exported = {
        "p1": [{"partner_id": "p1", "location_id": "L1"}, {"partner_id": "p1", "location_id": "L2"}],
        "p2": [{"partner_id": "p2", "location_id": "M1"}],
    }
    assert all(result.passed for result in export_rules(plan, exported))
    leaked = {**exported, "p2": [{"partner_id": "p1", "location_id": "L1"}]}
    assert _by_rule(export_rules(plan, leaked))["only_that_partners_rows"].failures == 1
    missing = _by_rule(export_rules(plan, {"p1": exported["p1"]}))
    assert missing["one_file_per_partner_with_its_plan_rows"].offending["partner_id"].tolist() == ["p2"]
    # A file written in the partner's own ids (no partner or location column) is judged by its row count alone.
    assert all(r.passed for r in export_rules(plan, {"p1": [{}, {}], "p2": [{"store": "x"}]}))
