import csv
import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml

from assets.feeds.errors import PartnerConfigError
from assets.feeds.partner_config import load_partner_config
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


HANSA_CONFIG = Path(__file__).resolve().parents[2] / "data" / "partners" / "hansa_handel.yaml"


def hansa_plan() -> pd.DataFrame:
    rows = [
        input_row("hansa_handel", "F012", "P1003", on_hand=2.0, demand_daily_mean=3.7),
        input_row("hansa_handel", "F027", "P1001"),
    ]
    return plan_replenishment(pd.DataFrame(rows), PLAN_DATE).assign(version=3)


def master_data() -> dict[str, pd.DataFrame]:
    return {
        "items": pd.DataFrame(
            {
                "partner_id": "hansa_handel",
                "partner_item_ref": ["0084215010030", "00084215010030", "0084215010016", "00084215010016"],
                "product_id": ["P1003", "P1003", "P1001", "P1001"],
                "ref_type": ["ean", "gtin", "ean", "gtin"],
            }
        ),
        "locations": pd.DataFrame(
            {
                "partner_id": "hansa_handel",
                "location_id": ["F012", "F027"],
                "gln": ["4012345000016", None],
                "location_name": ["Hamburg-Altona", "Bremen Viertel"],
            }
        ),
        "products": pd.DataFrame(
            {
                "product_id": ["P1001", "P1003"],
                "gtin": ["00084215010016", "00084215010030"],
                "product_description": ["Sparkling Mineral Water 1L", "Cold Brew Coffee 250ml"],
            }
        ),
    }


def test_german_partner_export_reads_back_with_its_own_ids_semicolons_and_decimal_commas(tmp_path):
    config = load_partner_config(HANSA_CONFIG)
    plan = hansa_plan()
    paths = write_partner_exports(plan, tmp_path, PLAN_DATE, **master_data(), dialects={"hansa_handel": config.export})
    csv_path = next(path for path in paths if path.suffix == ".csv")
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "a BOM, so Excel opens the UTF-8 file right"
    text = raw.decode("utf-8-sig")
    assert text.splitlines()[0] == ";".join(EXPORT_COLUMNS)
    rows = list(csv.DictReader(text.splitlines(), delimiter=";"))
    assert [row["location_id"] for row in rows] == ["F012", "F027"]
    first = rows[0]
    assert first["partner_item_id"] == "0084215010030"  # its EAN-13, not our P1003 nor the GTIN-14
    assert first["gtin"] == "00084215010030"
    assert first["location_gln"] == "4012345000016" and rows[1]["location_gln"] == ""
    assert first["plan_version"] == "3"
    assert first["plan_date"] == "03.03.2025" and first["ship_date"] == "06.03.2025"  # Thursday, German dates
    line = plan.sort_values("location_id").iloc[0]
    assert float(first["demand_daily_mean"].replace(",", ".")) == pytest.approx(3.7)
    assert "," in first["demand_daily_mean"] and "." not in first["demand_daily_mean"]
    assert int(first["ship_qty"]) == line["ship_qty"] and int(first["ship_cases"]) == line["ship_qty"] / 6
    assert first["allocated_qty"] == first["ship_qty"]
    # The JSON stays JSON: UTF-8, ISO dates, numbers as numbers, and the same ids.
    document = json.loads(paths[1].read_text(encoding="utf-8"))
    assert document["plan_version"] == 3
    assert document["rows"][0]["partner_item_id"] == "0084215010030"
    assert document["rows"][0]["plan_date"] == "2025-03-03"
    assert document["rows"][0]["demand_daily_mean"] == pytest.approx(3.7)


def test_partner_without_an_export_block_gets_its_first_own_reference_and_the_default_dialect(tmp_path):
    data = master_data()
    data["items"] = data["items"].assign(partner_id="p1", ref_type=["sku", "gtin", "upc", "gtin"])
    data["locations"] = data["locations"].assign(partner_id="p1")
    plan = hansa_plan().assign(partner_id="p1")
    csv_path = write_partner_exports(plan, tmp_path, PLAN_DATE, **data)[0]
    rows = list(csv.DictReader(csv_path.read_text(encoding="utf-8").splitlines()))
    assert [row["partner_item_id"] for row in rows] == ["0084215010030", "0084215010016"]  # sku, then upc
    assert rows[0]["plan_date"] == "2025-03-03"
    assert "." in rows[0]["demand_daily_mean"]


def test_export_block_is_validated(tmp_path):
    path = tmp_path / "hansa_handel.yaml"
    document = yaml.safe_load(HANSA_CONFIG.read_text(encoding="utf-8"))
    for bad, key in (
        ({"delimiter": ";", "decimal": ";"}, "export.decimal"),
        ({"item_id": "plu"}, "export.item_id"),
        ({"encoding": "klingon"}, "export.encoding"),
        ({"quoting": "all"}, "export.quoting"),
    ):
        path.write_text(yaml.safe_dump({**document, "export": bad}), encoding="utf-8")
        with pytest.raises(PartnerConfigError, match=key.replace(".", r"\.")):
            load_partner_config(path)


def test_a_partner_without_rows_loses_the_nights_files_it_had(plan, tmp_path):
    first = write_partner_exports(plan, tmp_path, PLAN_DATE)
    assert (tmp_path / "p1" / "replenishment_plan_2025-03-03.csv") in first
    # The rerun of the night holds p1: its earlier plan file must not stay for its ERP to load.
    write_partner_exports(plan[plan["partner_id"] == "p2"], tmp_path, PLAN_DATE, withdraw=["p1", "p2"])
    assert not list((tmp_path / "p1").iterdir())
    assert (tmp_path / "p2" / "replenishment_plan_2025-03-03.csv").is_file()


def test_the_files_name_the_delivery_days_the_plan_chose_and_ship_on_them(tmp_path):
    costs = {"unit_cost": 4.0, "holding_cost_rate": 0.25, "shipment_cost": 5000.0, "stockout_penalty_rate": 0.5}
    plan = plan_replenishment(pd.DataFrame([input_row("p1", "L1", "A", on_hand=1.0, **costs)]), PLAN_DATE)
    chosen = plan["ship_days"].iloc[0]
    assert chosen in ("Mon", "Thu"), "a delivery this dear comes once a week"
    document = json.loads(write_partner_exports(plan, tmp_path, PLAN_DATE)[1].read_text())
    row = document["rows"][0]
    assert row["ship_days"] == chosen
    assert pd.Timestamp(row["ship_date"]).strftime("%a") == chosen
    older = write_partner_exports(plan.drop(columns=["ship_days"]), tmp_path / "old", PLAN_DATE)
    assert json.loads(older[1].read_text())["rows"][0]["ship_days"] is None


def test_the_exports_step_reads_and_writes_one_partner_at_a_time_and_withdraws_a_held_partners_files(tmp_path):
    import dagster as dg
    import duckdb

    from assets.replenishment import partner_exports
    from forecasts.replenishment.plan_history import save_plan
    from orchestration.runtime.resources import Artefacts, FeedFolders, Warehouse

    rows = [input_row("hansa_handel", "L1", "A", on_hand=1.0), input_row("redwood_grocers", "S1", "B", on_hand=2.0)]
    plan = plan_replenishment(pd.DataFrame(rows), PLAN_DATE)
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        save_plan(conn, plan, plan_date=PLAN_DATE, run_id="r")
    held = tmp_path / "data" / "exports" / "huaxin_retail" / "replenishment_plan_2025-03-03.csv"
    held.parent.mkdir(parents=True)
    held.write_text("a plan that no longer stands", encoding="utf-8")
    result = partner_exports(
        dg.build_asset_context(partition_key=PLAN_DATE.isoformat()),
        warehouse=Warehouse(path=str(warehouse)),
        artefacts=Artefacts(data_dir=str(tmp_path / "data")),
        feed_folders=FeedFolders(partner_config_dir=str(Path(__file__).parents[2] / "data" / "partners")),
    )
    assert result.metadata["partners"] == 2
    assert not held.exists()
    for partner_id in ("hansa_handel", "redwood_grocers"):
        folder = tmp_path / "data" / "exports" / partner_id
        document = json.loads((folder / "replenishment_plan_2025-03-03.json").read_text(encoding="utf-8"))
        assert {row["partner_id"] for row in document["rows"]} == {partner_id}
        assert (folder / "replenishment_plan_2025-03-03.csv").is_file()
