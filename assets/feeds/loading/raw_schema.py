"""DDL of the `raw` schema: the landing tables analysts and dbt sources rely on (extend, never rename).

A column is only ever added at the end of a table, and nullable, so a warehouse created by an earlier version is
brought up to date in place: :func:`ensure_raw_schema` adds what its tables lack and leaves their rows alone.
"""

from __future__ import annotations

RAW_TABLE_DDL: dict[str, str] = {
    "raw.stock_snapshots": """
        partner_id varchar not null, location_id varchar, product_ref varchar, as_of_date date,
        on_hand_qty double, on_order_qty double, in_transit_qty double, uom varchar,
        source_file_id varchar not null, source_line integer, merged_lines integer""",
    "raw.sales": """
        partner_id varchar not null, location_id varchar, product_ref varchar,
        period_start date, period_end date, units_sold double, units_returned double,
        net_sales_amount double, currency varchar, promo_flag boolean,
        source_file_id varchar not null, source_line integer,
        units_received double, units_out_of_stock double, uom varchar, merged_lines integer""",
    "raw.partner_forecasts": """
        partner_id varchar not null, location_id varchar, product_ref varchar, forecast_date date,
        target_period_start date, target_period_end date, forecast_qty double,
        source_file_id varchar not null, source_line integer""",
    "raw.partner_promotions": """
        partner_id varchar not null, location_id varchar, product_ref varchar, promo_start date, promo_end date,
        promo_type varchar, depth double, source_file_id varchar not null, source_line integer, promo_id varchar,
        cancelled boolean""",
    "raw.feed_files": """
        source_file_id varchar not null, partner_id varchar, path varchar, received_at timestamp,
        format varchar, record_type varchar, control_number varchar, rows_parsed integer,
        rows_rejected integer, status varchar, reason varchar, loaded_at timestamp,
        quantities_reported integer, quantities_loaded integer, quantities_rejected integer,
        quantities_unused integer, unused_detail varchar, rules_version varchar""",
    "raw.edi_interchanges": """
        source_file_id varchar not null, partner_id varchar, interchange_index integer not null,
        standard varchar, control_number varchar, sender varchar, receiver varchar, version varchar,
        is_test boolean, sets integer, sets_rejected integer, outcome varchar, reason varchar,
        quantities_reported integer, quantities_loaded integer, quantities_rejected integer,
        quantities_unused integer""",
    "raw.feed_rejects": """
        source_file_id varchar not null, partner_id varchar, record_type varchar, source_line integer,
        reason varchar, raw_record varchar""",
    "raw.partners": """
        partner_id varchar not null, partner_name varchar, country varchar, timezone varchar,
        currency varchar, feed_cutoff_local varchar""",
    "raw.partner_locations": """
        partner_id varchar not null, location_id varchar not null, location_name varchar, gln varchar,
        city varchar, country varchar""",
    "raw.products": """
        product_id varchar not null, gtin varchar, description varchar, category varchar,
        case_pack integer, moq integer, pallet_qty integer, unit_cost double, lifecycle varchar""",
    "raw.partner_items": """
        partner_id varchar not null, partner_item_ref varchar not null, product_id varchar not null,
        ref_type varchar""",
    "raw.replenishment_agreements": """
        partner_id varchar not null, product_id varchar, lead_time_days double, lead_time_std_days double,
        review_period_days integer, service_level double, min_cover_days double, max_cover_days double,
        moq integer, case_pack integer, ship_days varchar, holding_cost_rate double, shipment_cost double,
        stockout_penalty_rate double, forecast_bucket varchar""",
    "raw.shipments": """
        shipment_id varchar not null, partner_id varchar not null, location_id varchar not null,
        product_id varchar not null, ship_date date, expected_receipt_date date, qty double""",
    "raw.supplier_stock": """
        product_id varchar not null, as_of_date date not null, available_qty double""",
}


def column_definitions(table: str) -> list[str]:
    """The table's column definitions in order, e.g. ``["partner_id varchar not null", ...]``."""
    return [" ".join(definition.split()) for definition in RAW_TABLE_DDL[table].split(",")]


def ensure_raw_schema(conn) -> None:
    """Create the `raw` schema and its tables when missing, and add the columns an older table lacks.

    Rows already loaded keep their values; the added columns are null on them (not reported).
    """
    conn.execute("create schema if not exists raw")
    existing: dict[str, set[str]] = {}
    for table_name, column_name in conn.execute(
        """select table_name, column_name from duckdb_columns()
           where database_name = current_database() and schema_name = 'raw'"""
    ).fetchall():
        existing.setdefault(f"raw.{table_name}", set()).add(column_name)
    statements = []
    for table, columns in RAW_TABLE_DDL.items():
        if table not in existing:
            statements.append(f"create table if not exists {table} ({columns})")
            continue
        for definition in column_definitions(table):
            if definition.split()[0] not in existing[table]:
                statements.append(f"alter table {table} add column if not exists {definition}")
    if statements:  # one round trip: a new warehouse needs a dozen tables
        conn.execute(";\n".join(statements))
