"""Partner YAML configs: the committed dialects load, and bad configs fail naming the file and the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from assets.feeds.errors import PartnerConfigError
from assets.feeds.partner_config import REQUIRED_COLUMNS, load_partner_configs

CONFIG_DIR = Path(__file__).resolve().parents[2] / "data" / "partners"

VALID = {
    "partner_id": "acme",
    "name": "Acme Stores",
    "country": "US",
    "timezone": "America/New_York",
    "currency": "USD",
    "feed_cutoff": "06:00",
    "files": [
        {
            "record_type": "stock",
            "pattern": "stock_*.csv",
            "columns": {
                "location_id": "store",
                "product_ref": "upc",
                "as_of_date": "date",
                "on_hand_qty": "on_hand",
            },
        },
        {
            "record_type": "sales",
            "pattern": "*.csv",
            "columns": {
                "location_id": "store",
                "product_ref": "upc",
                "period_start": "day",
                "units_sold": "sold",
            },
        },
    ],
}


def write_config(folder: Path, document: dict, name: str | None = None) -> Path:
    path = folder / f"{name or document['partner_id']}.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def edited(**changes) -> dict:
    document = copy.deepcopy(VALID)
    document.update(changes)
    return document


def test_committed_partner_configs_describe_three_dialects():
    configs = load_partner_configs(CONFIG_DIR)
    assert set(configs) == {"redwood_grocers", "hansa_handel", "huaxin_retail"}
    for config in configs.values():
        assert {spec.record_type for spec in config.files} == {"stock", "sales", "forecast", "promotion"}
        assert config.source_path is not None and config.source_path.stem == config.partner_id

    redwood = configs["redwood_grocers"]
    assert (redwood.country, redwood.timezone, redwood.currency) == ("US", "America/Chicago", "USD")
    assert redwood.specs_for("sales")[0].columns["promo_flag"] == "on_promo"

    hansa = configs["hansa_handel"].specs_for("sales")[0]
    assert (hansa.delimiter, hansa.encoding, hansa.decimal, hansa.thousands) == (";", "utf-8-sig", ",", ".")
    assert hansa.date_format == "%d.%m.%Y"
    assert hansa.columns["location_id"] == "Filiale"

    huaxin = configs["huaxin_retail"]
    stock = huaxin.specs_for("stock")[0]
    assert (stock.delimiter, stock.encoding, stock.date_format) == ("\t", "gbk", "%Y/%m/%d")
    assert stock.columns["on_hand_qty"] == "库存数量"
    assert huaxin.cutoff_time.hour == 8
    assert huaxin.demo["item_ref"] == "sku"


def test_committed_partner_configs_cover_every_format():
    configs = load_partner_configs(CONFIG_DIR)
    formats = {
        partner_id: {(spec.format, spec.message) for spec in config.files} for partner_id, config in configs.items()
    }
    assert formats["redwood_grocers"] == {("csv", None), ("x12", "852"), ("x12", "846")}
    assert formats["hansa_handel"] == {("csv", None), ("edifact", "INVRPT"), ("edifact", "SLSRPT")}
    assert formats["huaxin_retail"] == {("csv", None), ("xlsx", None), ("json", None)}
    redwood = configs["redwood_grocers"]
    weekly = redwood.spec_for("852_20250616_20250622.x12")
    assert (weekly.record_type, weekly.item_qualifiers, weekly.gtin_mode) == ("sales", ("UP", "EN", "VN"), "normalise")
    assert weekly.activity_codes == {"QR": "units_received", "QO": "units_out_of_stock"}
    workbook = configs["huaxin_retail"].spec_for("kucun_20250629.xlsx")
    assert (workbook.sheet, workbook.header_row, workbook.gtin_mode) == ("库存日报", 3, "off")
    export = configs["huaxin_retail"].spec_for("xiaoshou_20250629.json")
    assert (export.records_path, export.columns["location_id"]) == ("data.records", "门店.编号")


def test_edi_spec_needs_no_columns_and_takes_code_mappings(tmp_path):
    document = copy.deepcopy(VALID)
    document["files"].append(
        {
            "record_type": "sales",
            "pattern": "*.edi",
            "format": "x12",
            "message": 852,
            "item_qualifiers": ["up", "VN"],
            "activity_codes": {"TS": "units_sold", "QA": None},
            "quantity_codes": {33: "on_hand_qty", "2": "on_order_qty"},
            "constants": {"currency": "USD", "uom": "EA"},
        }
    )
    write_config(tmp_path, document)
    spec = load_partner_configs(tmp_path)["acme"].files[2]
    assert (spec.message, spec.item_qualifiers) == ("852", ("UP", "VN"))
    assert spec.activity_codes == {"TS": "units_sold", "QA": None}
    assert spec.quantity_codes == {"33": "on_hand_qty", "02": "on_order_qty"}, "X12 codes are two characters"


def test_a_sales_file_may_carry_receipts_and_stock_outs_as_columns_and_edi_codes_may_feed_them(tmp_path):
    document = copy.deepcopy(VALID)
    document["files"][1]["columns"].update(units_received="Wareneingang", units_out_of_stock="Fehlmenge")
    document["files"].append(
        {"record_type": "sales", "pattern": "*.x12", "format": "x12", "activity_codes": {"LS": "units_out_of_stock"}}
    )
    write_config(tmp_path, document)
    files = load_partner_configs(tmp_path)["acme"].files
    assert (files[1].columns["units_received"], files[1].columns["units_out_of_stock"]) == ("Wareneingang", "Fehlmenge")
    assert files[2].activity_codes == {"LS": "units_out_of_stock"}


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda d: d["files"][0]["columns"].update(units_received="in"), "files[0].columns.units_received"),
        (
            lambda d: d["files"][0].update(format="x12", columns=None, constants={"units_out_of_stock": 0}),
            "files[0].constants.units_out_of_stock",
        ),
    ],
)
def test_receipts_and_stock_outs_are_sales_measures_only(tmp_path, change, key):
    """A stock file reports no period activity, and an EDI file reports measures by its codes, never as constants."""
    document = copy.deepcopy(VALID)
    change(document)
    write_config(tmp_path, document)
    with pytest.raises(PartnerConfigError) as error:
        load_partner_configs(tmp_path)
    assert error.value.key == key


def test_spec_for_returns_the_first_matching_pattern(tmp_path):
    write_config(tmp_path, VALID)
    config = load_partner_configs(tmp_path)["acme"]
    assert config.spec_for("stock_20250101.csv").record_type == "stock"
    assert config.spec_for("sales_20250101.csv").record_type == "sales"
    assert config.spec_for("archive/stock_1.csv").record_type == "stock"
    assert config.spec_for("stock_20250101.txt") is None


def test_required_column_may_come_from_a_constant(tmp_path):
    document = copy.deepcopy(VALID)
    del document["files"][0]["columns"]["location_id"]
    document["files"][0]["constants"] = {"location_id": "DC1"}
    write_config(tmp_path, document)
    assert load_partner_configs(tmp_path)["acme"].files[0].constants == {"location_id": "DC1"}


def test_bad_yaml_names_the_file_and_line(tmp_path):
    path = tmp_path / "acme.yaml"
    path.write_text("partner_id: acme\nfiles: [\n  - oops: : :\n", encoding="utf-8")
    with pytest.raises(PartnerConfigError) as error:
        load_partner_configs(tmp_path)
    assert str(error.value).startswith(f"{path}: line ")
    assert "invalid YAML" in str(error.value)


@pytest.mark.parametrize(
    ("change", "key", "fragment"),
    [
        (
            lambda d: d["files"][0].update(record_type="returns"),
            "files[0].record_type",
            "unknown record type",
        ),
        (lambda d: d["files"][1]["columns"].pop("units_sold"), "files[1].columns", "units_sold"),
        (lambda d: d["files"][0]["columns"].update(colour="x"), "files[0].columns.colour", "not a canonical"),
        (lambda d: d["files"][0].update(delimeter=";"), "files[0].delimeter", "unknown key"),
        (lambda d: d["files"][0].update(encoding="klingon"), "files[0].encoding", "unknown encoding"),
        (lambda d: d["files"][0].update(decimal=",", thousands=","), "files[0].thousands", "different"),
        (
            lambda d: d["files"][0].update(constants={"on_hand_qty": 1}),
            "files[0].constants.on_hand_qty",
            "both",
        ),
        (lambda d: d["files"][1].update(true_values=[True]), "files[1].true_values", "quote"),
        (lambda d: d.update(timezone="Mars/Olympus"), "timezone", "unknown IANA"),
        (lambda d: d.update(country="USA"), "country", "ISO 3166"),
        (lambda d: d.update(feed_cutoff="6am"), "feed_cutoff", "HH:MM"),
        (lambda d: d.pop("currency"), "currency", "missing"),
        (lambda d: d.update(files=[]), "files", "non-empty"),
        (lambda d: d["files"][0].update(format="xml"), "files[0].format", "unknown format"),
        (lambda d: d["files"][0].update(sheet="Stock"), "files[0].sheet", "does not apply to format csv"),
        (lambda d: d["files"][0].update(gtin="maybe"), "files[0].gtin", "not one of off, verify, normalise"),
        (
            lambda d: d["files"][0].update(format="xlsx", header_row=0),
            "files[0].header_row",
            "expected a row number from 1",
        ),
        (
            lambda d: d["files"][0].update(format="x12", columns=None, message="810"),
            "files[0].message",
            "'810' is not one of 852, 846",
        ),
        (
            lambda d: d["files"][0].update(format="x12", columns=None, activity_codes={"QS": "sold"}),
            "files[0].activity_codes.QS",
            "not a canonical measure",
        ),
        (
            lambda d: d["files"][0].update(format="edifact", columns=None, constants={"on_hand_qty": 1}),
            "files[0].constants.on_hand_qty",
            "not a canonical stock/sales column",
        ),
        (
            lambda d: d["files"][0].update(format="edifact", columns=None, activity_codes={"QS": "units_sold"}),
            "files[0].activity_codes",
            "only to x12",
        ),
    ],
)
def test_invalid_config_names_file_and_key(tmp_path, change, key, fragment):
    document = copy.deepcopy(VALID)
    change(document)
    path = write_config(tmp_path, document)
    with pytest.raises(PartnerConfigError) as error:
        load_partner_configs(tmp_path)
    assert error.value.path == path
    assert error.value.key == key
    assert str(error.value).startswith(f"{path}: {key}: ")
    assert fragment in str(error.value)


def test_partner_id_must_match_the_file_name(tmp_path):
    path = write_config(tmp_path, VALID, name="acme_stores")
    with pytest.raises(PartnerConfigError, match="differs from the file name") as error:
        load_partner_configs(tmp_path)
    assert error.value.path == path


def test_missing_config_folder_is_an_error(tmp_path):
    with pytest.raises(PartnerConfigError, match="does not exist"):
        load_partner_configs(tmp_path / "nowhere")


def test_every_required_column_is_a_canonical_column():
    from assets.feeds.contracts import RAW_FEED_COLUMNS

    for record_type, required in REQUIRED_COLUMNS.items():
        assert set(required) <= set(RAW_FEED_COLUMNS[record_type])
