"""The raw schema grows in place: a warehouse created before a contract column existed gains it, rows kept."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb

from assets.feeds.contracts import RAW_FEED_COLUMNS, RAW_FEED_TABLES
from assets.feeds.loading.loader import ingest_landing
from assets.feeds.loading.raw_schema import RAW_TABLE_DDL, column_definitions, ensure_raw_schema
from assets.feeds.partner_config import load_partner_configs

CONFIG_DIR = Path(__file__).resolve().parents[2] / "data" / "partners"

# raw.sales as the warehouse was created before the 852's receipts and stock-outs had columns.
PREVIOUS_SALES_DDL = """
    partner_id varchar not null, location_id varchar, product_ref varchar,
    period_start date, period_end date, units_sold double, units_returned double,
    net_sales_amount double, currency varchar, promo_flag boolean,
    source_file_id varchar not null, source_line integer"""

OLD_ROW = (
    "redwood_grocers",
    "1042",
    "00084215010016",
    date(2025, 6, 9),
    date(2025, 6, 15),
    40.0,
    1.0,
    None,
    "USD",
    None,
    "old-852",
    9,
)

WEEKLY_852 = (
    "ISA*00*          *00*          *ZZ*REDWOODGROC    *ZZ*084215000000   *250623*0215*U*00401*000000412*0*P*>~\n"
    "GS*PD*REDWOODGROC*084215000000*20250623*0215*412*X*004010~\n"
    "ST*852*0001~\nXQ*H*20250616*20250622~\nLIN**UP*084215010016~\n"
    "ZA*QS~\nSDQ*EA*92*1042*48*1107*37~\nZA*QR~\nSDQ*EA*92*1042*24~\nZA*QO~\nSDQ*EA*92*1107*5~\n"
    "ZA*QA~\nSDQ*EA*92*1042*26*1107*0~\n"
    "CTT*1~\nSE*13*0001~\nGE*1*412~\nIEA*1*000000412~\n"
)


def columns(conn: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(name, kind) for name, kind, *_ in conn.execute(f"describe {table}").fetchall()]


def old_warehouse(path: Path) -> None:
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema raw")
        for table, ddl in RAW_TABLE_DDL.items():
            conn.execute(f"create table {table} ({PREVIOUS_SALES_DDL if table == 'raw.sales' else ddl})")
        conn.execute(f"insert into raw.sales values ({', '.join('?' * len(OLD_ROW))})", OLD_ROW)


def test_an_old_sales_table_gains_the_new_columns_at_its_end_and_keeps_its_rows(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    old_warehouse(path)
    with duckdb.connect(str(path)) as conn:
        ensure_raw_schema(conn)
        ensure_raw_schema(conn)
        upgraded = columns(conn, "raw.sales")
        rows = conn.execute("select * from raw.sales").fetchall()
    with duckdb.connect() as fresh:
        ensure_raw_schema(fresh)
        assert upgraded == columns(fresh, "raw.sales"), "an upgraded table looks exactly like a new one"
    assert [name for name, _ in upgraded] == list(RAW_FEED_COLUMNS["sales"])
    assert upgraded[-4:] == [
        ("units_received", "DOUBLE"),
        ("units_out_of_stock", "DOUBLE"),
        ("uom", "VARCHAR"),
        ("merged_lines", "INTEGER"),
    ]
    assert rows == [(*OLD_ROW, None, None, None, None)], "rows loaded before stay as they were; the new ones unknown"


def test_every_contract_column_is_a_column_of_its_raw_table():
    for record_type, table in RAW_FEED_TABLES.items():
        names = [definition.split()[0] for definition in column_definitions(table)]
        assert names == list(RAW_FEED_COLUMNS[record_type])


def test_an_852_with_receipts_and_stock_outs_loads_into_an_upgraded_warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    old_warehouse(path)
    landing = tmp_path / "landing"
    (landing / "redwood_grocers").mkdir(parents=True)
    (landing / "redwood_grocers" / "852_20250616_20250622.x12").write_text(WEEKLY_852, encoding="ascii")
    with duckdb.connect(str(path)) as conn:
        report = ingest_landing(conn, landing, load_partner_configs(CONFIG_DIR), now=datetime(2025, 6, 23, 3))
        assert report.counts["loaded"] == 1, report.outcomes
        loaded = conn.execute(
            """select location_id, units_sold, units_received, units_out_of_stock from raw.sales
               where source_file_id <> 'old-852' order by location_id"""
        ).fetchall()
        old = conn.execute("select units_received, units_out_of_stock from raw.sales where source_file_id = 'old-852'")
        assert old.fetchall() == [(None, None)]
    assert loaded == [("1042", 48.0, 24.0, None), ("1107", 37.0, None, 5.0)]
