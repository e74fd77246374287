"""Loader: landing folder -> raw tables and ledger; reruns, duplicates, quarantine, all-or-nothing files."""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from assets.feeds import loader
from assets.feeds.contracts import FEED_LEDGER_TABLE, FEED_REJECTS_TABLE, MASTER_DATA_FILES, RAW_FEED_TABLES
from assets.feeds.errors import MasterDataError
from assets.feeds.loader import ingest_landing, load_master_data
from assets.feeds.partner_config import load_partner_configs

CONFIG_DIR = Path(__file__).resolve().parents[2] / "data" / "partners"
CONFIGS = load_partner_configs(CONFIG_DIR)
NOW = datetime(2025, 7, 1, 2, 0)
REDWOOD_SALES_ROWS = "select count(*) from raw.sales where partner_id = 'redwood_grocers'"
DELIVERED = datetime(2025, 6, 30, 9, 15, tzinfo=UTC)

REDWOOD_STOCK = (
    "store_nbr,upc,inventory_date,on_hand_units\n"
    "1042,084215010016,2025-06-29,30\n"
    "1042,084215010023,2025-06-29,12\n"
    "1107,084215010016,2025-06-29,0\n"
)
REDWOOD_SALES = (
    "store_nbr,upc,business_date,units_sold,units_returned,net_sales_usd,on_promo\n"
    "1042,084215010016,2025-06-29,7,0,83.65,N\n"
    "1042,084215010023,2025-06-29,2,0,28.46,Y\n"
    "1107,084215010016,2025-06-29,bad,0,1.00,N\n"
)
HANSA_STOCK = "Filiale;EAN;Datum;Bestand\r\nF012;0084215010016;29.06.2025;1.204\r\nF027;0084215010016;29.06.2025;8\r\n"
HUAXIN_SALES = (
    "门店编号\t商品编码\t商品名称\t日期\t销售数量\t退货数量\t销售金额\n"
    "SH001\tHX-031648\t苏打矿泉水1升\t2025/06/29\t14\t0\t1204.56\n"
)


def deliver(landing: Path, relative: str, text: str, encoding: str = "utf-8") -> Path:
    path = landing / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    os.utime(path, (DELIVERED.timestamp(), DELIVERED.timestamp()))
    return path


@pytest.fixture
def landing(tmp_path) -> Path:
    root = tmp_path / "landing"
    deliver(root, "redwood_grocers/inventory_20250629.csv", REDWOOD_STOCK)
    deliver(root, "redwood_grocers/sales_20250629.csv", REDWOOD_SALES)
    deliver(root, "hansa_handel/Bestand_20250629.csv", HANSA_STOCK, "utf-8-sig")
    deliver(root, "huaxin_retail/xiaoshou_20250629.txt", HUAXIN_SALES, "gbk")
    deliver(root, "_supplier/partners.csv", "partner_id\nredwood_grocers\n")
    return root


@pytest.fixture
def conn():
    connection = duckdb.connect()
    yield connection
    connection.close()


def snapshot(connection) -> dict[str, list[tuple]]:
    tables = [*RAW_FEED_TABLES.values(), FEED_LEDGER_TABLE, FEED_REJECTS_TABLE]
    return {table: connection.execute(f"select * from {table} order by all").fetchall() for table in tables}


def ledger(connection) -> dict[str, tuple]:
    rows = connection.execute(
        f"select path, status, rows_parsed, rows_rejected, reason, record_type, format from {FEED_LEDGER_TABLE}"
    ).fetchall()
    return {row[0]: row[1:] for row in rows}


def test_ingest_loads_every_dialect_with_ledger_rows(conn, landing):
    report = ingest_landing(conn, landing, CONFIGS, now=NOW)
    assert report.counts == {"loaded": 4, "quarantined": 0, "duplicate": 0}
    files = ledger(conn)
    assert set(files) == {
        "hansa_handel/Bestand_20250629.csv",
        "huaxin_retail/xiaoshou_20250629.txt",
        "redwood_grocers/inventory_20250629.csv",
        "redwood_grocers/sales_20250629.csv",
    }, "the _supplier folder is not a partner"
    assert files["redwood_grocers/sales_20250629.csv"][:3] == ("loaded", 2, 1)
    assert files["hansa_handel/Bestand_20250629.csv"][4:] == ("stock", "csv")

    stock = conn.execute(
        "select partner_id, location_id, product_ref, as_of_date, on_hand_qty from raw.stock_snapshots order by all"
    ).fetchall()
    assert len(stock) == 5
    assert ("hansa_handel", "F012", "0084215010016", datetime(2025, 6, 29).date(), 1204.0) in stock
    assert conn.execute("select count(*), sum(units_sold) from raw.sales").fetchall() == [(3, 23.0)]
    assert conn.execute("select promo_flag from raw.sales where units_sold = 2").fetchall() == [(True,)]
    reject = conn.execute(f"select partner_id, source_line, reason from {FEED_REJECTS_TABLE}").fetchall()
    assert reject == [("redwood_grocers", 4, "bad number 'bad' in units_sold (units_sold)")]

    received, loaded = conn.execute(
        f"select received_at, loaded_at from {FEED_LEDGER_TABLE} where path like 'hansa%'"
    ).fetchall()[0]
    assert received == DELIVERED.replace(tzinfo=None)
    assert loaded == NOW
    file_id = conn.execute(f"select source_file_id from {FEED_LEDGER_TABLE} where path like 'hansa%'").fetchall()
    expected_id = hashlib.sha256((landing / "hansa_handel/Bestand_20250629.csv").read_bytes()).hexdigest()
    assert file_id == [(expected_id,)]


def test_second_ingest_changes_nothing(conn, landing):
    ingest_landing(conn, landing, CONFIGS, now=NOW)
    before = snapshot(conn)
    assert sum(len(rows) for rows in before.values()) > 0
    report = ingest_landing(conn, landing, CONFIGS, now=datetime(2025, 7, 2))
    assert report.outcomes == [] and report.unchanged == 4
    assert snapshot(conn) == before


def test_same_bytes_under_another_name_is_a_duplicate(conn, landing):
    ingest_landing(conn, landing, CONFIGS, now=NOW)
    shutil.copy2(landing / "redwood_grocers/sales_20250629.csv", landing / "redwood_grocers/sales_20250629_resend.csv")
    report = ingest_landing(conn, landing, CONFIGS, now=NOW)
    assert [(o.path, o.status) for o in report.outcomes] == [("redwood_grocers/sales_20250629_resend.csv", "duplicate")]
    assert report.outcomes[0].reason == "same content as redwood_grocers/sales_20250629.csv"
    assert conn.execute("select count(*) from raw.sales").fetchall() == [(3,)]
    status, *_, record_type, file_format = ledger(conn)["redwood_grocers/sales_20250629_resend.csv"]
    assert (status, record_type, file_format) == ("duplicate", "sales", "csv")


def test_undecodable_file_is_quarantined_and_other_partners_still_load(conn, landing, tmp_path):
    bad = deliver(landing, "huaxin_retail/kucun_20250629.txt", HUAXIN_SALES, "utf-16")
    quarantine = tmp_path / "quarantine"
    report = ingest_landing(conn, landing, CONFIGS, quarantine_dir=quarantine, now=NOW)
    assert report.counts == {"loaded": 4, "quarantined": 1, "duplicate": 0}
    (outcome,) = report.with_status("quarantined")
    assert outcome.path == "huaxin_retail/kucun_20250629.txt"
    assert outcome.reason.startswith(f"{bad}: line 1: cannot decode as gbk")
    copied = quarantine / "huaxin_retail" / "kucun_20250629.txt"
    assert copied.read_bytes() == bad.read_bytes()
    assert ledger(conn)[outcome.path][:2] == ("quarantined", 0)
    loaded_partners = conn.execute(
        f"select distinct partner_id from {FEED_LEDGER_TABLE} where status = 'loaded' order by 1"
    ).fetchall()
    assert loaded_partners == [("hansa_handel",), ("huaxin_retail",), ("redwood_grocers",)]
    assert conn.execute("select count(*) from raw.stock_snapshots where partner_id = 'huaxin_retail'").fetchall() == [
        (0,)
    ]


def test_unknown_partner_folder_and_unmatched_file_are_quarantined(conn, landing, tmp_path):
    deliver(landing, "acme/stock.csv", "a,b\n1,2\n")
    deliver(landing, "redwood_grocers/README.txt", "notes\n")
    report = ingest_landing(conn, landing, CONFIGS, quarantine_dir=tmp_path / "q", now=NOW)
    reasons = {o.path: o.reason for o in report.with_status("quarantined")}
    assert reasons["acme/stock.csv"] == "no partner config for folder 'acme' (expected acme.yaml)"
    assert reasons["redwood_grocers/README.txt"].startswith("file name matches no pattern configured for redwood")
    assert (tmp_path / "q" / "acme" / "stock.csv").exists()
    assert report.counts["loaded"] == 4


def test_failure_mid_load_leaves_nothing_of_that_file(conn, landing, monkeypatch):
    ingest_landing(conn, landing, CONFIGS, now=NOW)
    # Force a reload of one file: its ledger row goes, its rows stay (as after a manual ledger fix).
    conn.execute(f"delete from {FEED_LEDGER_TABLE} where path = 'redwood_grocers/sales_20250629.csv'")
    before = snapshot(conn)
    real_insert = loader.insert_frame

    def insert_then_fail(connection, table, frame, columns, types=None):
        real_insert(connection, table, frame, columns, types)
        if table == FEED_REJECTS_TABLE:
            raise RuntimeError("disk full")

    monkeypatch.setattr(loader, "insert_frame", insert_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        ingest_landing(conn, landing, CONFIGS, now=NOW)
    assert snapshot(conn) == before, "the delete and inserts of the failed file were rolled back"
    assert conn.execute(REDWOOD_SALES_ROWS).fetchall() == [(2,)]

    monkeypatch.setattr(loader, "insert_frame", real_insert)
    report = ingest_landing(conn, landing, CONFIGS, now=NOW)
    assert [(o.path, o.status) for o in report.outcomes] == [("redwood_grocers/sales_20250629.csv", "loaded")]
    assert conn.execute(REDWOOD_SALES_ROWS).fetchall() == [(2,)], "reloaded, not doubled"
    assert conn.execute(f"select count(*) from {FEED_REJECTS_TABLE}").fetchall() == [(1,)]


def test_failure_on_first_load_leaves_no_rows_and_no_ledger_row(conn, landing, monkeypatch):
    def fail_on_ledger(*args, **kwargs):
        raise RuntimeError("connection lost")

    monkeypatch.setattr(loader, "_insert_ledger_row", fail_on_ledger)
    with pytest.raises(RuntimeError):
        ingest_landing(conn, landing, CONFIGS, now=NOW)
    assert all(rows == [] for rows in snapshot(conn).values())


def test_crashing_parser_is_reported_and_retried_next_run(conn, landing, monkeypatch):
    def crash(path, spec, config, source_file_id):
        raise ValueError("unexpected")

    monkeypatch.setitem(loader.PARSERS, "csv", crash)
    report = ingest_landing(conn, landing, CONFIGS, now=NOW)
    assert report.counts["failed"] == 4
    assert report.outcomes[0].reason == "parser error: ValueError: unexpected"
    assert conn.execute(f"select count(*) from {FEED_LEDGER_TABLE}").fetchall() == [(0,)]


def test_missing_landing_folder_is_an_error(conn, tmp_path):
    with pytest.raises(FileNotFoundError, match="landing folder"):
        ingest_landing(conn, tmp_path / "nowhere", CONFIGS)


def test_on_file_sees_every_file_in_sorted_order(conn, landing):
    seen: list[str] = []
    ingest_landing(conn, landing, CONFIGS, now=NOW, on_file=seen.append)
    assert seen == sorted(seen) and len(seen) == 4


# --- master data ---------------------------------------------------------------------------------------


MASTER_FILES = {
    "partners.csv": "partner_id,partner_name,country,timezone,currency,feed_cutoff_local\n"
    "redwood_grocers,Redwood Grocers,US,America/Chicago,USD,06:00\n",
    "partner_locations.csv": "partner_id,location_id,location_name,gln,city,country\n"
    "redwood_grocers,1042,Lincoln Park,0860001230016,Chicago,US\n",
    "products.csv": "product_id,gtin,description,category,case_pack,moq,pallet_qty,unit_cost,lifecycle\n"
    "P1001,00084215010016,Sparkling Water,beverages,6,12,240,1.25,active\n"
    "P1002,00084215010023,Orange Juice,beverages,12,,960,2.10,active\n",
    "partner_items.csv": "partner_id,partner_item_ref,product_id,ref_type\nredwood_grocers,084215010016,P1001,upc\n",
    "replenishment_agreements.csv": "partner_id,product_id,lead_time_days,lead_time_std_days,"
    "review_period_days,service_level,min_cover_days,max_cover_days,moq,case_pack,ship_days\n"
    'redwood_grocers,,3,0.8,2,0.95,6,14,,,"Mon,Wed,Fri"\n',
    "shipments.csv": "shipment_id,partner_id,location_id,product_id,ship_date,expected_receipt_date,qty\n"
    "SHP-1,redwood_grocers,1042,P1001,2025-06-27,2025-06-30,24\n",
}


@pytest.fixture
def supplier(tmp_path) -> Path:
    folder = tmp_path / "_supplier"
    folder.mkdir()
    for name, text in MASTER_FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_master_data_loads_with_ddl_types_and_replaces_on_reload(conn, supplier):
    counts = load_master_data(conn, supplier)
    assert counts == {table: len(MASTER_FILES[name].splitlines()) - 1 for name, table in MASTER_DATA_FILES.items()}
    assert conn.execute("select case_pack, moq, unit_cost from raw.products order by product_id").fetchall() == [
        (6, 12, 1.25),
        (12, None, 2.10),
    ]
    agreement = conn.execute("select product_id, lead_time_days, ship_days from raw.replenishment_agreements")
    assert agreement.fetchall() == [(None, 3.0, "Mon,Wed,Fri")]
    gtin_type = conn.execute(
        "select data_type from information_schema.columns where table_name = 'products' and column_name = 'gtin'"
    ).fetchall()
    assert gtin_type == [("VARCHAR",)]
    assert conn.execute("select gtin from raw.products order by 1").fetchall()[0] == ("00084215010016",)

    assert load_master_data(conn, supplier) == counts
    assert conn.execute("select count(*) from raw.products").fetchall() == [(2,)]


def test_missing_required_master_file_names_folder_and_file(conn, supplier):
    (supplier / "products.csv").unlink()
    with pytest.raises(MasterDataError) as error:
        load_master_data(conn, supplier)
    assert str(error.value) == f"{supplier}: missing required master data file(s): products.csv"


def test_shipments_are_optional(conn, supplier):
    (supplier / "shipments.csv").unlink()
    counts = load_master_data(conn, supplier)
    assert "raw.shipments" not in counts and counts["raw.products"] == 2


def test_bad_master_value_names_file_line_and_column_and_loads_nothing(conn, supplier):
    load_master_data(conn, supplier)
    text = MASTER_FILES["products.csv"].replace("12,,960", "twelve,,960")
    (supplier / "products.csv").write_text(text, encoding="utf-8")
    (supplier / "partners.csv").write_text(
        MASTER_FILES["partners.csv"] + "hansa_handel,Hansa,DE,Europe/Berlin,EUR,06:00\n", encoding="utf-8"
    )
    with pytest.raises(MasterDataError) as error:
        load_master_data(conn, supplier)
    assert str(error.value) == f"{supplier / 'products.csv'}: line 3: case_pack 'twelve' is not a valid INTEGER"
    assert conn.execute("select count(*) from raw.partners").fetchall() == [(1,)], "earlier version kept"


def test_missing_master_column_and_null_key_are_errors(conn, supplier):
    (supplier / "partner_items.csv").write_text("partner_id,partner_item_ref\nredwood_grocers,1\n", encoding="utf-8")
    with pytest.raises(MasterDataError, match=r"partner_items.csv: line 1: missing column\(s\) product_id, ref_type"):
        load_master_data(conn, supplier)
    (supplier / "partner_items.csv").write_text(
        "partner_id,partner_item_ref,product_id,ref_type\nredwood_grocers,1,,upc\n", encoding="utf-8"
    )
    with pytest.raises(MasterDataError, match="partner_items.csv: line 2: product_id is required"):
        load_master_data(conn, supplier)


def test_missing_supplier_folder_is_an_error(conn, tmp_path):
    with pytest.raises(MasterDataError, match="does not exist"):
        load_master_data(conn, tmp_path / "_supplier")
