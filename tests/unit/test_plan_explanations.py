"""Every plan line explained: the steps say where each input came from and how the quantity was reached."""

from datetime import date, datetime

import duckdb
import pandas as pd
import pytest

from forecasts.replenishment.explain import (
    EXPLANATION_COLUMNS,
    STEPS,
    ExplanationInputs,
    explain_plan,
    format_explanation,
)
from forecasts.replenishment.plan_history import save_plan_explanations
from forecasts.replenishment.policy import allocate_fairly, plan_replenishment
from orchestration import cli

PLAN_DATE = date(2025, 3, 3)  # a Monday


def inputs_row(**overrides) -> dict:
    row = {
        "partner_id": "p1",
        "location_id": "L1",
        "product_id": "A",
        "on_hand": 20.0,
        "on_order": 5.0,
        "in_transit": 12.0,
        "committed": 0.0,
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
        "ship_days": "Tue,Fri",
    }
    return {**row, **overrides}


def sources(supplier_stock: float = 48.0) -> ExplanationInputs:
    key = {"partner_id": "p1", "location_id": "L1", "product_id": "A"}
    return ExplanationInputs(
        stock=pd.DataFrame(
            [
                {
                    **key,
                    "observed_date": pd.Timestamp("2025-03-03"),
                    "on_hand_qty": 20.0,
                    "on_order_qty": 5.0,
                    "source_file_id": "abc",
                    "source_line": 17,
                    "product_ref": "4012345000016",
                    "received_at": pd.Timestamp("2025-03-04 03:15"),
                    "path": "p1/stock_20250303.csv",
                }
            ]
        ),
        in_transit=pd.DataFrame(
            [
                {
                    **key,
                    "shipment_id": "SHP-1",
                    "ship_date": "2025-02-28",
                    "expected_receipt_date": "2025-03-05",
                    "qty": 12,
                }
            ]
        ),
        agreements=pd.DataFrame([{**key, "ship_days": "Tue,Fri", "agreement_source": "product"}]),
        forecast=pd.DataFrame(
            {
                **key,
                "forecast_date": pd.date_range("2025-03-04", periods=28),
                "p50": 10.0,
                "p90": 15.0,
                "model": "prophet",
                "demand_class": "smooth",
            }
        ),
        accuracy=pd.DataFrame(
            [{**key, "as_of_date": date(2025, 2, 20), "wape": 0.234, "bias": -0.05, "periods_scored": 7}]
        ),
        gate=pd.DataFrame([{"partner_id": "p1", "status": "warn", "failed_errors": 0, "failed_warnings": 2}]),
        supplier_stock={"A": supplier_stock},
    )


def explained(supplier_stock: float = 48.0, **overrides) -> tuple[pd.DataFrame, pd.DataFrame]:
    plan = plan_replenishment(pd.DataFrame([inputs_row(**overrides)]), PLAN_DATE)
    plan = allocate_fairly(plan, {"A": supplier_stock})
    return plan, explain_plan(plan, sources(supplier_stock), PLAN_DATE)


def step(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame.set_index("step").loc[name]


def test_one_row_per_step_in_reading_order():
    _, steps = explained()
    assert list(steps.columns) == EXPLANATION_COLUMNS
    assert list(steps["step"]) == [name for name, _ in STEPS]
    assert list(steps["step_number"]) == list(range(1, len(STEPS) + 1))


def test_stock_count_is_traced_to_its_file_line_and_receipt():
    _, steps = explained()
    stock = step(steps, "stock_on_hand")
    assert stock["value"] == 20.0
    assert stock["source"] == "p1/stock_20250303.csv line 17, received 2025-03-04 03:15"
    assert "4012345000016" in stock["detail"]
    assert "SHP-1" in step(steps, "in_transit")["detail"]
    assert step(steps, "in_transit")["value"] == 12.0
    assert step(steps, "inventory_position")["value"] == 37.0


def test_quantity_steps_agree_with_the_plan_and_name_the_cut():
    plan, steps = explained(on_hand=60.0)
    line = plan.iloc[0]
    # Order up to 148.1 from a position of 77: 71.1 short, six cases of 12; we hold 48 units.
    assert line["ship_qty"] == 72.0 and line["allocated_qty"] == 48.0
    decision = step(steps, "decision")
    assert abs(decision["value"] - (line["order_up_to"] - line["inventory_position"])) < 1e-9
    assert step(steps, "rounding")["value"] == 72.0
    assert "→ 6 case(s) of 12: needed 72 units" in step(steps, "rounding")["detail"]
    allocation = step(steps, "allocation")
    assert allocation["value"] == 48.0
    assert "48 of the 72 needed units ship" in allocation["detail"]
    assert "we had 48 units" in allocation["detail"]
    assert step(steps, "reorder_point")["value"] == line["reorder_point"]


def test_a_small_need_is_raised_to_the_moq():
    plan, steps = explained(supplier_stock=500.0, on_hand=100.0, moq=48.0)
    assert plan.iloc[0]["ship_qty"] == 48.0  # 31.1 short: three cases would do, the MOQ is four
    assert "3 case(s) of 12, raised to the MOQ of 48: needed 48 units (4 cases)" in step(steps, "rounding")["detail"]
    assert "all 48 needed units ship" in step(steps, "allocation")["detail"]


def test_agreement_forecast_accuracy_and_gate_are_named():
    _, steps = explained()
    assert "Tue,Fri" in step(steps, "ship_days")["detail"]
    assert "z = 1.64" in step(steps, "service_level")["detail"]
    forecast = step(steps, "forecast")["detail"]
    assert "prophet" in forecast and "smooth" in forecast
    assert "WAPE 23 %" in step(steps, "forecast_accuracy")["detail"]
    assert step(steps, "data_gate")["detail"].startswith("warn: blocking rules passed; warnings recorded (2 warning(s)")


def test_a_line_above_its_reorder_point_says_nothing_ships():
    _, steps = explained(on_hand=400.0)
    assert step(steps, "decision")["value"] == 0.0
    assert "nothing to ship" in step(steps, "decision")["detail"]
    assert step(steps, "allocation")["value"] == 0.0


def test_missing_sources_are_said_not_invented():
    plan, _ = explained()
    steps = explain_plan(plan, ExplanationInputs(), PLAN_DATE)
    assert "no source row found" in step(steps, "stock_on_hand")["source"]
    assert "not measured yet" in step(steps, "forecast_accuracy")["detail"]


def test_cmi_explain_prints_the_stored_steps(tmp_path, capsys):
    _, steps = explained()
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        save_plan_explanations(conn, steps, plan_date=PLAN_DATE, version=1)
        # A rerun of the night replaces its rows instead of adding to them.
        save_plan_explanations(conn, steps, plan_date=PLAN_DATE, version=1)
        assert conn.execute("select count(*) from replenishment.plan_explanations").fetchone()[0] == len(STEPS)
    assert cli.main(["explain", "p1", "L1", "A", "--warehouse", str(warehouse)]) == 0
    out = capsys.readouterr().out
    assert out == format_explanation(steps.assign(version=1)) + "\n"
    assert "source: p1/stock_20250303.csv line 17, received 2025-03-04 03:15" in out
    assert cli.main(["explain", "p1", "L1", "B", "--warehouse", str(warehouse), "--date", "2025-03-03"]) == 1
    assert "no plan line for p1 L1 B on 2025-03-03" in capsys.readouterr().err


def test_cmi_explain_json_is_valid(tmp_path, capsys):
    import json

    _, steps = explained()
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        save_plan_explanations(conn, steps, plan_date=PLAN_DATE, version=2)
    assert cli.main(["explain", "p1", "L1", "A", "--json", "--warehouse", str(warehouse)]) == 0
    records = json.loads(capsys.readouterr().out)
    assert records[0]["source"].endswith("received 2025-03-04 03:15")
    assert records[8]["value"] is None  # cover bounds carry no single number
    assert records[0]["version"] == 2
    assert datetime.fromisoformat(records[0]["plan_date"]).date() == PLAN_DATE


COSTS = {"unit_cost": 4.0, "holding_cost_rate": 0.25, "stockout_penalty_rate": 0.5}


def test_a_thinned_cadence_says_which_days_and_what_it_saves():
    plan, steps = explained(**COSTS, shipment_cost=5000.0, review_period_days=1.0)
    line = plan.iloc[0]
    cadence = step(steps, "cadence")
    chosen = {"Tue": "Tuesdays", "Fri": "Fridays"}[line["ship_days"]]
    assert cadence["detail"].startswith(
        f"ships {chosen} only: {line['location_cost_per_day']:,.2f} a day against "
        f"{line['location_agreed_cost_per_day']:,.2f} shipping every agreed day (Tuesdays and Fridays)"
    )
    assert line["location_cost_per_day"] < line["location_agreed_cost_per_day"]
    assert cadence["value"] == pytest.approx(line["location_cost_per_day"]), "one line: it carries the whole truck"
    assert f"{line['shipping_cost_per_day']:,.2f}" == "714.29" and "714.29" in cadence["detail"]
    assert line["ship_days"] in step(steps, "ship_days")["detail"]
    text = format_explanation(steps)
    assert f"{'Cadence and its cost':<28} {line['location_cost_per_day']:,.2f} a day" in text


def test_a_cadence_kept_on_every_agreed_day_says_why():
    _, cheap = explained(**(COSTS | {"shipment_cost": 0.0, "stockout_penalty_rate": 0.0}))
    assert "ships Tuesdays and Fridays: " in step(cheap, "cadence")["detail"]
    assert "no fewer of the agreed days would save over 10 % of it" in step(cheap, "cadence")["detail"]
    assert "promised" not in step(cheap, "cadence")["detail"]
    _, uncosted = explained()
    assert "no price to weigh a delivery against" in step(uncosted, "cadence")["detail"]


def test_a_cadence_change_says_the_promised_truck_still_goes():
    from forecasts.replenishment.explain import cadence_step

    line = {
        "ship_days": "Mon",
        "ship_days_agreed": "Mon,Thu",
        "ship_date": pd.Timestamp("2025-03-06"),
        "location_cost_per_day": 40.0,
        "location_agreed_cost_per_day": 80.0,
        "holding_cost_per_day": 1.0,
        "shipping_cost_per_day": 38.0,
        "stockout_cost_per_day": 1.0,
    }
    detail = cadence_step(line)[3]
    assert detail.startswith("ships Mondays only: 40.00 a day against 80.00")
    assert detail.endswith("the next shipment still goes on 2025-03-06, the truck the previous plan promised")
    assert "promised" not in cadence_step(line | {"ship_date": pd.Timestamp("2025-03-10")})[3]
