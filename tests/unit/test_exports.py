import csv
import json
from datetime import date

import pandas as pd
import pytest

from assets.renderers.partner_exports import EXPORT_COLUMNS, write_partner_exports
from forecasts.replenishment.policy import plan_replenishment

PLAN_DATE = date(2025, 3, 3)


def input_row(partner_id: str, location_id: str, product_id: str, **overrides: object) -> dict:
    row = {
        "partner_id": partner_id,
        "location_id": location_id,
        "product_id": product_id,
        "on_hand": 40.0,
        "on_order": 0.0,
        "in_transit": 0.0,
        "committed": 0.0,
        "demand_daily_mean": 10.0 / 3,
        "demand_daily_std": 1.0,
        "lead_time_days": 3.0,
        "lead_time_std_days": 0.5,
        "review_period_days": 2.0,
        "service_level": 0.95,
        "min_cover_days": 3.0,
        "max_cover_days": 20.0,
        "case_pack": 6.0,
        "moq": 12.0,
        "ship_days": "Mon,Thu",
    }
    return {**row, **overrides}


@pytest.fixture
def plan() -> pd.DataFrame:
    rows = [
        input_row("p2", "S2", "B", on_hand=2.0),
        input_row("p1", "L9", "A"),
        input_row("p2", "S1", "A", demand_daily_mean=0.0),
        input_row("p1", "L1", "B", on_hand=1.0),
    ]
    return plan_replenishment(pd.DataFrame(rows), PLAN_DATE)


def test_one_csv_and_one_json_per_partner_with_only_its_rows(plan, tmp_path):
    paths = write_partner_exports(plan, tmp_path, PLAN_DATE)
    assert [path.relative_to(tmp_path).as_posix() for path in paths] == [
        "p1/replenishment_plan_2025-03-03.csv",
        "p1/replenishment_plan_2025-03-03.json",
        "p2/replenishment_plan_2025-03-03.csv",
        "p2/replenishment_plan_2025-03-03.json",
    ]
    with paths[2].open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == EXPORT_COLUMNS
    assert {row["partner_id"] for row in rows} == {"p2"}
    assert [(row["location_id"], row["product_id"]) for row in rows] == [("S1", "A"), ("S2", "B")]

    document = json.loads(paths[1].read_text())
    assert document["partner_id"] == "p1"
    assert document["plan_date"] == "2025-03-03"
    assert document["columns"] == EXPORT_COLUMNS
    assert [list(row) for row in document["rows"]] == [EXPORT_COLUMNS] * 2
    assert [row["location_id"] for row in document["rows"]] == ["L1", "L9"]


def test_values_are_iso_dates_plain_numbers_and_empty_when_undefined(plan, tmp_path):
    paths = write_partner_exports(plan, tmp_path, PLAN_DATE)
    with paths[2].open(newline="") as handle:
        no_demand, shipping = list(csv.DictReader(handle))
    assert shipping["plan_date"] == "2025-03-03"
    assert shipping["ship_date"] == "2025-03-06"  # Monday's plan ships on Thursday
    assert shipping["expected_receipt_date"] == "2025-03-09"
    assert shipping["case_pack"] == "6"
    assert shipping["demand_daily_mean"] == "3.333"
    assert int(shipping["ship_qty"]) % 6 == 0
    # No demand: cover is infinite and there is no stock-out date.
    assert no_demand["days_of_cover"] == ""
    assert no_demand["projected_stockout_date"] == ""
    rows = json.loads(paths[3].read_text())["rows"]
    assert rows[0]["days_of_cover"] is None
    assert rows[0]["projected_stockout_date"] is None
    assert rows[1]["demand_daily_mean"] == 3.333


def test_rerun_gives_identical_bytes_whatever_the_row_order(plan, tmp_path):
    first = {path: path.read_bytes() for path in write_partner_exports(plan, tmp_path, PLAN_DATE)}
    shuffled = plan.sample(frac=1.0, random_state=1).reset_index(drop=True)
    second = {path: path.read_bytes() for path in write_partner_exports(shuffled, tmp_path, PLAN_DATE)}
    assert first == second
    assert not [path for path in tmp_path.rglob("*") if path.name.endswith(".tmp")]


def test_plan_of_another_date_is_refused(plan, tmp_path):
    with pytest.raises(ValueError, match="not only for 2025-03-04"):
        write_partner_exports(plan, tmp_path, date(2025, 3, 4))


def test_partner_id_that_would_leave_the_folder_is_refused(plan, tmp_path):
    escaping = plan.assign(partner_id="../p1")
    with pytest.raises(ValueError, match="folder name"):
        write_partner_exports(escaping, tmp_path / "out", PLAN_DATE)
    assert not (tmp_path / "p1").exists()


def test_plan_without_export_columns_is_refused(plan, tmp_path):
    with pytest.raises(ValueError, match="missing columns: ship_date"):
        write_partner_exports(plan.drop(columns=["ship_date"]), tmp_path, PLAN_DATE)


def test_empty_plan_writes_nothing(plan, tmp_path):
    assert write_partner_exports(plan.iloc[:0], tmp_path, PLAN_DATE) == []
