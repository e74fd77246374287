"""What a nightly run produced, printed for the engineer who ran it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from orchestration.runtime.warehouse_tables import table_exists

SUMMARY_SCHEMAS = ("raw", "staging", "marts", "quality", "forecasts", "replenishment")


def table_row_counts(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    tables = conn.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in (select unnest(?::varchar[])) "
        # Staging views re-read raw history, so only tables are counted, and the marts that are views of one.
        "and (table_type = 'BASE TABLE' or table_schema = 'marts') order by 1, 2",
        [list(SUMMARY_SCHEMAS)],
    ).fetchall()
    return [(f"{s}.{t}", conn.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]) for s, t in tables]


def print_summary(warehouse: Path, business_date: date, top: int = 10) -> None:
    if not warehouse.exists():
        print(f"no warehouse at {warehouse}")
        return
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        print(f"\nWarehouse {warehouse}")
        for table, rows in table_row_counts(conn):
            print(f"  {table:<45} {rows:>10,} rows")
        ledger = (
            conn.execute("select status, count(*) from raw.feed_files group by 1 order by 1").fetchall()
            if table_exists(conn, "raw.feed_files")
            else []
        )
        if ledger:
            print("\nPartner files: " + ", ".join(f"{n} {status}" for status, n in ledger))
        if table_exists(conn, "quality.partner_data_gate"):
            gate = conn.execute(
                "select partner_id, status, coalesce(reasons, '') from quality.partner_data_gate "
                "where as_of_date = ? order by 1",
                [business_date],
            ).fetchall()
            print("\nData gate: " + "; ".join(f"{p} {s}" for p, s, _ in gate))
        if table_exists(conn, "replenishment.replenishment_plan"):
            lines = conn.execute(
                f"""select partner_id, location_id, product_id, round(inventory_position, 1),
                           round(reorder_point, 1), round(order_up_to, 1), ship_qty,
                           coalesce(allocated_qty, ship_qty) as shipping, reason_code
                    from replenishment.replenishment_plan where plan_date = ? and ship_qty > 0
                    order by shipping desc, partner_id, location_id, product_id limit {top}""",
                [business_date],
            ).fetchall()
            print(f"\nTop replenishment lines for {business_date}:")
            print(
                f"  {'partner':<16} {'location':<10} {'product':<10} {'position':>9} {'ROP':>8} "
                f"{'up-to':>8} {'needed':>7} {'ship':>7}  reason"
            )
            for p, loc, prod, ip, rop, up, needed, ship, reason in lines:
                print(f"  {p:<16} {loc:<10} {prod:<10} {ip:>9} {rop:>8} {up:>8} {needed:>7.0f} {ship:>7.0f}  {reason}")
