"""Helpers that more than one test module uses. Fixtures live in the conftest.py files; these are plain values and
functions, so a test module never imports another test module."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from assets.feeds.loading.raw_schema import column_definitions, ensure_raw_schema
from expectations.docs import write_validation_record
from expectations.raw_feeds import raw_sales_suite, raw_stock_snapshots_suite
from expectations.runner import run_suite_by_partner

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

# --- A small, hand-written night of partner feeds for the dbt project --------------------------------------------
# Two partners: Acme (US stores, daily CSV feeds, one corrected resend, one quarantined file) and Nordkauf (a German
# DC sending a weekly 852 with an item we do not know). Business date 2025-06-10.

DBT_NIGHT = date(2025, 6, 10)
ACME, NORD = "ACME", "NORD"
UPC_100, UPC_200 = "012345678905", "012345678912"
JUNE = 6


def day(d: int) -> date:
    return date(2025, JUNE, d)


def ledger(
    file_id: str,
    partner_id: str,
    received: datetime,
    record_type: str,
    status: str = "loaded",
    file_format: str = "csv",
    control_number: str | None = None,
    reason: str | None = None,
) -> tuple:
    """One feed-ledger row; loaded files are loaded a minute after they arrive."""
    loaded_at = received + timedelta(minutes=1) if status == "loaded" else None
    path = f"{partner_id.lower()}/{file_id}.{file_format}"
    rows_rejected = int(status == "quarantined")
    return (
        file_id,
        partner_id,
        path,
        received,
        file_format,
        record_type,
        control_number,
        1,
        rows_rejected,
        status,
        reason,
        loaded_at,
    )


def stock(
    partner_id: str,
    location_id: str,
    product_ref: str,
    counted: date,
    on_hand: float,
    file_id: str,
    line: int,
    on_order: float = 0.0,
) -> tuple:
    return (partner_id, location_id, product_ref, counted, on_hand, on_order, 0.0, "ea", file_id, line)


def sales(
    partner_id: str,
    location_id: str,
    product_ref: str,
    start: date,
    end: date,
    units: float,
    amount: float,
    file_id: str,
    line: int,
    returned: float = 0.0,
    promo: bool = False,
    received: float | None = None,
    out_of_stock: float | None = None,
) -> tuple:
    currency = "USD" if partner_id == ACME else "EUR"
    return (
        partner_id,
        location_id,
        product_ref,
        start,
        end,
        units,
        returned,
        amount,
        currency,
        promo,
        file_id,
        line,
        received,
        out_of_stock,
    )


FIXTURE: dict[str, list[tuple]] = {
    "raw.partners": [
        (ACME, "Acme Retail", "US", "America/New_York", "USD", "06:00"),
        (NORD, "Nordkauf GmbH", "DE", "Europe/Berlin", "EUR", "05:00"),
    ],
    "raw.partner_locations": [
        (ACME, "S001", "Acme Springfield", "0614141000012", "Springfield", "US"),
        (ACME, "S002", "Acme Shelbyville", None, "Shelbyville", "US"),
        (NORD, "DC1", "Nordkauf Zentrallager", "4012345000009", "Kassel", "DE"),
    ],
    "raw.products": [
        ("SKU-100", "00012345678905", "Espresso beans 1 kg", "coffee", 6, 12, 480, 7.40, "active"),
        ("SKU-200", "00012345678912", "Filter coffee 500 g", "coffee", 12, 24, 960, 3.10, "active"),
        ("SKU-300", "04006381333931", "Green tea 100 bags", "tea", 4, 4, 640, 2.25, "new"),
    ],
    "raw.partner_items": [
        (ACME, UPC_100, "SKU-100", "upc"),
        (ACME, UPC_200, "SKU-200", "upc"),
        (NORD, "N-100", "SKU-100", "sku"),
        (NORD, "4006381333931", "SKU-300", "ean"),
    ],
    "raw.replenishment_agreements": [
        (ACME, None, 4.0, 1.0, 7, 0.95, 7.0, 28.0, None, None, "Mon,Thu"),
        (ACME, "SKU-200", 6.0, None, None, None, None, None, None, None, None),
        (NORD, None, 10.0, 2.0, 14, 0.97, 14.0, 42.0, 48, None, "Tue"),
    ],
    "raw.shipments": [
        # Nordkauf's 852 reports it received: delivered on the partner's word, not on the schedule.
        ("SH-0", NORD, "DC1", "SKU-100", day(1), day(5), 48.0),
        ("SH-1", ACME, "S001", "SKU-100", day(5), day(9), 24.0),
        ("SH-2", ACME, "S002", "SKU-200", day(9), day(12), 48.0),
        ("SH-3", NORD, "DC1", "SKU-300", day(12), day(20), 96.0),
    ],
    "raw.feed_files": [
        ledger("acme-stock-0605", ACME, datetime(2025, JUNE, 6, 6, 10), "stock"),
        ledger("acme-stock-0608", ACME, datetime(2025, JUNE, 9, 6, 5), "stock"),
        ledger(
            "acme-stock-0609",
            ACME,
            datetime(2025, JUNE, 10, 6, 0),
            "stock",
            status="quarantined",
            reason="header mismatch",
        ),
        ledger("acme-sales-0609", ACME, datetime(2025, JUNE, 10, 6, 0), "sales"),
        ledger("acme-sales-0609-v2", ACME, datetime(2025, JUNE, 10, 14, 0), "sales"),
        ledger("acme-fcst-0609", ACME, datetime(2025, JUNE, 9, 7, 0), "forecast"),
        ledger(
            "nord-852-w23",
            NORD,
            datetime(2025, JUNE, 9, 3, 0),
            "sales",
            file_format="edi",
            control_number="000000023",
        ),
        ledger("nord-stock-0608", NORD, datetime(2025, JUNE, 9, 3, 5), "stock"),
        # Acme's promotion calendar, its revision, and a cancellation that arrives after the night.
        ledger("acme-promo-0520", ACME, datetime(2025, 5, 20, 6, 0), "promotion"),
        ledger("acme-promo-0605", ACME, datetime(2025, JUNE, 5, 6, 0), "promotion"),
        ledger("acme-promo-0613", ACME, datetime(2025, JUNE, 13, 6, 0), "promotion"),
        # Nordkauf's calendars carry no promotion numbers: each restates the plan for the days it spans.
        ledger("nord-promo-0601", NORD, datetime(2025, JUNE, 1, 3, 0), "promotion"),
        ledger("nord-promo-0606", NORD, datetime(2025, JUNE, 6, 3, 0), "promotion"),
    ],
    "raw.feed_rejects": [
        ("acme-stock-0609", ACME, "stock", 1, "header mismatch: no on-hand column", "Store;Item;Qty;Date"),
    ],
    "raw.stock_snapshots": [
        stock(ACME, "S001", UPC_100, day(5), 20.0, "acme-stock-0605", 2, on_order=12.0),
        stock(ACME, "S002", UPC_200, day(5), 15.0, "acme-stock-0605", 3),
        stock(ACME, "S001", UPC_100, day(8), 8.0, "acme-stock-0608", 2, on_order=12.0),
        stock(ACME, "S003", UPC_100, day(8), 5.0, "acme-stock-0608", 3),
        # Counted after the business date: must not be used for 2025-06-10.
        stock(ACME, "S002", UPC_200, day(11), 2.0, "acme-stock-0608", 4),
        # From the quarantined file: must never be used.
        stock(ACME, "S001", UPC_100, day(9), 999.0, "acme-stock-0609", 2),
        stock(NORD, "DC1", "N-100", day(8), 0.0, "nord-stock-0608", 2, on_order=60.0),
        stock(NORD, "DC1", "4006381333931", day(8), 30.0, "nord-stock-0608", 3),
    ],
    "raw.sales": [
        sales(ACME, "S001", UPC_100, day(5), day(5), 3.0, 29.97, "acme-sales-0609", 2),
        sales(ACME, "S001", UPC_100, day(6), day(6), 2.0, 19.98, "acme-sales-0609", 3),
        sales(ACME, "S001", UPC_100, day(8), day(8), 40.0, 399.60, "acme-sales-0609", 4, promo=True),
        sales(ACME, "S001", UPC_100, day(9), day(9), 1.0, 9.99, "acme-sales-0609", 5),
        sales(ACME, "S002", UPC_200, day(7), day(7), 4.0, 15.96, "acme-sales-0609", 6, returned=1.0),
        # The corrected resend: 4 units on 2025-06-08, not 40.
        sales(ACME, "S001", UPC_100, day(8), day(8), 4.0, 39.96, "acme-sales-0609-v2", 2, promo=True),
        # One weekly 852 (Monday 2 to Sunday 8 June); one of its lines is for an item nobody mapped. It reports
        # receipts (ZA*QR) and, for the tea, units out of stock (ZA*QO).
        sales(NORD, "DC1", "N-100", day(2), day(8), 21.0, 189.00, "nord-852-w23", 7, received=48.0),
        sales(NORD, "DC1", "4006381333931", day(2), day(8), 7.0, 24.50, "nord-852-w23", 12, out_of_stock=2.0),
        sales(NORD, "DC1", "N-999", day(2), day(8), 5.0, 30.00, "nord-852-w23", 17),
    ],
    "raw.partner_promotions": [
        # P1 at every store, P2 at one, P3 a feature; the revision moves P1 a day and deepens it, and cancels P2.
        (ACME, None, UPC_100, day(12), day(18), "discount", 20.0, "acme-promo-0520", 2, "P1", False),
        (ACME, "S002", UPC_200, day(14), day(15), "display", None, "acme-promo-0520", 3, "P2", False),
        (ACME, None, UPC_200, day(20), day(21), "feature", None, "acme-promo-0520", 4, "P3", False),
        # An item nobody mapped, at every store: listed as an unknown item, not as an unknown store.
        (ACME, None, "099999999993", day(20), day(21), "feature", None, "acme-promo-0520", 5, "P4", False),
        (ACME, None, UPC_100, day(13), day(19), "discount", 25.0, "acme-promo-0605", 2, "P1", False),
        (ACME, "S002", UPC_200, day(14), day(15), "display", None, "acme-promo-0605", 3, "P2", True),
        # Received after the night: the night still plans P3.
        (ACME, None, UPC_200, day(20), day(21), "feature", None, "acme-promo-0613", 2, "P3", True),
        # The espresso display moves a day later; the early feature lies outside the later calendar's span.
        (NORD, None, "N-100", day(1), day(3), "feature", None, "nord-promo-0601", 2, None, False),
        (NORD, None, "N-100", day(16), day(20), "display", None, "nord-promo-0601", 3, None, False),
        (NORD, None, "N-100", day(17), day(21), "display", None, "nord-promo-0606", 2, None, False),
        # A mistyped end year loaded before calendars were checked: expanded only to the forecast's window.
        (NORD, "DC1", "4006381333931", day(12), date(9999, 12, 31), "display", None, "nord-promo-0606", 3, None, False),
    ],
    "raw.partner_forecasts": [
        (ACME, "S001", UPC_100, day(9), day(10), day(16), 21.0, "acme-fcst-0609", 2),
        # Made after the business date: must not be used.
        (ACME, "S001", UPC_100, day(12), day(17), day(23), 18.0, "acme-fcst-0609", 3),
    ],
}


def write_fixture(warehouse: Path, fixture: dict[str, list[tuple]] = FIXTURE) -> None:
    """Rows give a table's leading columns in order; columns the contract added later stay null (not reported)."""
    with duckdb.connect(str(warehouse)) as conn:
        ensure_raw_schema(conn)
        for table, rows in fixture.items():
            columns = [definition.split()[0] for definition in column_definitions(table)][: len(rows[0])]
            placeholders = ", ".join("?" * len(columns))
            conn.executemany(f"insert into {table} ({', '.join(columns)}) values ({placeholders})", rows)


# --- What the night's Great Expectations checks leave behind, for the quality docs -------------------------------

QUALITY_NIGHT = date(2025, 6, 10)
QUALITY_DAYS = pd.date_range("2025-06-04", "2025-06-10")
CLEAN_PARTNER, BROKEN_PARTNER = "clean_partner", "broken_partner"


def sales_lines(partner_id: str, last_day_units: float) -> pd.DataFrame:
    """A week of daily sales lines for one item; the last day's count decides whether the partner is clean."""
    return pd.DataFrame(
        {
            "partner_id": partner_id,
            "location_id": "S01",
            "product_ref": "SKU-1",
            "period_start": QUALITY_DAYS,
            "period_end": QUALITY_DAYS,
            "units_sold": [3.0] * (len(QUALITY_DAYS) - 1) + [last_day_units],
            "units_returned": 0.0,
            "source_file_id": "f-" + QUALITY_DAYS.strftime("%m%d"),
            "source_line": 2,
        }
    )


def stock_lines(partner_id: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "partner_id": partner_id,
            "location_id": "S01",
            "product_ref": "SKU-1",
            "as_of_date": QUALITY_DAYS,
            "on_hand_qty": 10.0,
            "on_order_qty": 0.0,
            "in_transit_qty": 0.0,
            "source_file_id": "s-" + QUALITY_DAYS.strftime("%m%d"),
            "source_line": 2,
        }
    )


def keep_quality_night(folder: Path) -> None:
    """What the nightly checks leave behind: one GX record per suite, each partner validated on its own."""
    sales = pd.concat([sales_lines(CLEAN_PARTNER, 3.0), sales_lines(BROKEN_PARTNER, -1.0)], ignore_index=True)
    stock = pd.concat([stock_lines(CLEAN_PARTNER), stock_lines(BROKEN_PARTNER)], ignore_index=True)
    write_validation_record(folder, "gx_raw_sales", run_suite_by_partner(sales, raw_sales_suite(QUALITY_NIGHT)))
    write_validation_record(
        folder, "gx_raw_stock_snapshots", run_suite_by_partner(stock, raw_stock_snapshots_suite(QUALITY_NIGHT))
    )


# --- Comparing warehouses: two runs that must agree, or one warehouse before and after a rerun -------------------

# Columns that say when, or in which run, a row was written: they differ between any two runs by design.
RUN_COLUMNS = frozenset({"run_id", "created_at", "planned_at", "checked_at", "loaded_at"})
# Files a night hands on: per-partner plan exports, and the quarantined copies of bad deliveries.
HANDED_ON = ("exports", "quarantine")
# Sums of doubles may differ in their last bits between two runs that did the same work in another order.
FLOAT_TOLERANCE = 1e-9


def snapshot_warehouse(warehouse: Path, folder: Path, schemas: Iterable[str] | None = None) -> Path:
    """Every table and view of a warehouse, without its run columns, as one Parquet file each in `folder`.

    Each view is read through the warehouse's own connection, so it sees that warehouse's tables.
    """
    folder.mkdir(parents=True)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        relations = conn.execute(
            """select schema_name, table_name from duckdb_tables()
               union all select schema_name, view_name from duckdb_views() where not internal
               order by all"""
        ).fetchall()
        for schema, name in relations:
            if schemas is not None and schema not in schemas:
                continue
            columns = [row[0] for row in conn.execute(f'describe "{schema}"."{name}"').fetchall()]
            kept = ", ".join(f'"{column}"' for column in columns if column not in RUN_COLUMNS)
            target = folder / f"{schema}.{name}.parquet"
            conn.execute(f'copy (select {kept} from "{schema}"."{name}") to \'{target}\' (format parquet)')
    return folder


def snapshot_table(folder: Path, table: str) -> str:
    """A snapshot's table as a DuckDB relation to select from."""
    return f"read_parquet('{folder / f'{table}.parquet'}')"


def snapshot_differences(
    left: Path,
    right: Path,
    schemas: Iterable[str] | None = None,
    tables: Iterable[str] | None = None,
    where: dict[str, str] | None = None,
) -> list[str]:
    """What differs between two snapshots: tables on one side only, other columns, rows on one side only.

    Rows are compared as multisets, every row and every kept column: exactly first (EXCEPT ALL both ways), then the
    rows left over on each side are lined up in order and compared within FLOAT_TOLERANCE. `where` narrows a table
    to some of its rows (SQL, by table name), e.g. one business date; `schemas` and `tables` narrow the comparison to
    some tables ("schema.table").
    """
    schemas = None if schemas is None else set(schemas)
    tables = None if tables is None else set(tables)

    def compared(folder: Path) -> set[str]:
        names = {path.name.removesuffix(".parquet") for path in folder.glob("*.parquet")}
        return {
            name
            for name in names
            if (schemas is None or name.split(".")[0] in schemas) and (tables is None or name in tables)
        }

    found = [f"{table}: only on one side" for table in sorted(compared(left) ^ compared(right))]
    with duckdb.connect() as conn:
        for table in sorted(compared(left) & compared(right)):
            condition = (where or {}).get(table, "true")
            lhs = f"(select * from {snapshot_table(left, table)} where {condition})"
            rhs = f"(select * from {snapshot_table(right, table)} where {condition})"
            left_columns = conn.execute(f"describe {lhs}").fetchall()
            right_columns = conn.execute(f"describe {rhs}").fetchall()
            if [column[:2] for column in left_columns] != [column[:2] for column in right_columns]:
                found.append(f"{table}: columns {left_columns} != {right_columns}")
                continue
            left_only = conn.execute(f"select * from {lhs} except all select * from {rhs} order by all").df()
            right_only = conn.execute(f"select * from {rhs} except all select * from {lhs} order by all").df()
            if left_only.empty and right_only.empty:
                continue
            try:
                pd.testing.assert_frame_equal(
                    left_only, right_only, check_dtype=False, rtol=FLOAT_TOLERANCE, atol=FLOAT_TOLERANCE
                )
            except AssertionError:
                found.append(
                    f"{table}: {len(left_only)} rows only on the left, {len(right_only)} only on the right; "
                    f"left:\n{left_only.head(5).to_string()}\nright:\n{right_only.head(5).to_string()}"
                )
    return found


def handed_on_files(data_dir: Path) -> dict[str, bytes]:
    """Every file a night handed on, by its path under the data folder."""
    return {
        path.relative_to(data_dir).as_posix(): path.read_bytes()
        for folder in HANDED_ON
        for path in sorted((data_dir / folder).rglob("*"))
        if path.is_file()
    }
