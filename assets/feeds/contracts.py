"""Canonical data contracts every parser emits and every raw table stores.

Names are the contract: add columns, never rename (see ARCHITECTURE.md, "Canonical data contracts").
Each tuple lists the columns of one raw table in load order. A column added later goes at the end of its tuple and
is optional (null when a file does not carry it), so a warehouse created before it gains it in place
(:func:`assets.feeds.loading.raw_schema.ensure_raw_schema`) with the same column order a new one has.
"""

from __future__ import annotations

RECORD_TYPES = ("stock", "sales", "forecast", "promotion")

STOCK_COLUMNS = (
    "partner_id",
    "location_id",
    "product_ref",
    "as_of_date",
    "on_hand_qty",
    "on_order_qty",
    "in_transit_qty",
    "uom",
    "source_file_id",
    "source_line",
    # How many lines of the file were merged into this row (an EDI item reported twice for one store and day).
    "merged_lines",
)

SALES_COLUMNS = (
    "partner_id",
    "location_id",
    "product_ref",
    "period_start",
    "period_end",
    "units_sold",
    "units_returned",
    "net_sales_amount",
    "currency",
    "promo_flag",
    "source_file_id",
    "source_line",
    # Period activity partners may also report: units received at the location (X12 852 ZA*QR), and units the
    # location could not supply because it was out of stock (852 ZA*QO, EANCOM SLSRPT QTY+217). Null: not reported.
    "units_received",
    "units_out_of_stock",
    # Unit of measure the partner reported the quantities in (EA, CA, FT ...), and lines merged as for stock.
    "uom",
    "merged_lines",
)

FORECAST_COLUMNS = (
    "partner_id",
    "location_id",
    "product_ref",
    "forecast_date",
    "target_period_start",
    "target_period_end",
    "forecast_qty",
    "source_file_id",
    "source_line",
)

# A partner's promotion calendar, shared ahead of time. A blank location means every location of the partner;
# ``depth`` is the discount in percent for a discount, the display's size where the partner gives one. Calendars are
# restated: ``promo_id`` (the partner's promotion number) ties a later statement to the earlier one it revises, and
# ``cancelled`` says the promotion no longer takes place.
PROMOTION_COLUMNS = (
    "partner_id",
    "location_id",
    "product_ref",
    "promo_start",
    "promo_end",
    "promo_type",
    "depth",
    "source_file_id",
    "source_line",
    "promo_id",
    "cancelled",
)
# What a promotion is, whatever the partner calls it in its files (a file spec's ``promo_types`` maps its words).
PROMOTION_TYPES = ("discount", "display", "feature")

# What each feed column holds, so every reader types a column alike (the rest are text, lineage an integer line).
DATE_COLUMNS = frozenset(
    {
        "as_of_date",
        "period_start",
        "period_end",
        "forecast_date",
        "target_period_start",
        "target_period_end",
        "promo_start",
        "promo_end",
    }
)
QUANTITY_COLUMNS = frozenset(
    {
        "on_hand_qty",
        "on_order_qty",
        "in_transit_qty",
        "units_sold",
        "units_returned",
        "net_sales_amount",
        "units_received",
        "units_out_of_stock",
        "forecast_qty",
        "depth",
    }
)
FLAG_COLUMNS = frozenset({"promo_flag", "cancelled"})

SHIPMENT_COLUMNS = (
    "shipment_id",
    "partner_id",
    "location_id",
    "product_id",
    "ship_date",
    "expected_receipt_date",
    "qty",
)

FEED_LEDGER_COLUMNS = (
    "source_file_id",
    "partner_id",
    "path",
    "received_at",
    "format",
    "record_type",
    "control_number",
    "rows_parsed",
    "rows_rejected",
    "status",
    "reason",
    "loaded_at",
    # Where the file's quantity elements went (EDI files; null for column files): counts and sums as sent, and
    # the unused ones listed by code with their counts.
    "quantities_reported",
    "quantities_loaded",
    "quantities_rejected",
    "quantities_unused",
    "unused_detail",
    "rules_version",
)

REJECT_COLUMNS = ("source_file_id", "partner_id", "record_type", "source_line", "reason", "raw_record")

# One raw table per canonical feed, keyed by record type.
RAW_FEED_TABLES = {
    "stock": "raw.stock_snapshots",
    "sales": "raw.sales",
    "forecast": "raw.partner_forecasts",
    "promotion": "raw.partner_promotions",
}
RAW_FEED_COLUMNS = {
    "stock": STOCK_COLUMNS,
    "sales": SALES_COLUMNS,
    "forecast": FORECAST_COLUMNS,
    "promotion": PROMOTION_COLUMNS,
}

FEED_LEDGER_TABLE = "raw.feed_files"
FEED_REJECTS_TABLE = "raw.feed_rejects"

# Supplier-side master data and our own shipments: file name in the `_supplier` landing folder -> raw table.
SUPPLIER_FOLDER = "_supplier"
MASTER_DATA_FILES = {
    "partners.csv": "raw.partners",
    "partner_locations.csv": "raw.partner_locations",
    "products.csv": "raw.products",
    "partner_items.csv": "raw.partner_items",
    "replenishment_agreements.csv": "raw.replenishment_agreements",
    "shipments.csv": "raw.shipments",
    "supplier_stock.csv": "raw.supplier_stock",
}
# Supplier files that may also come in dated parts (``shipments_20250701.csv``, one per day after the first file):
# each part adds its rows to the table.
DATED_MASTER_FILES = ("shipments.csv", "supplier_stock.csv")
# Columns a master data file may leave out (older files): they load as null.
OPTIONAL_MASTER_COLUMNS = {
    "raw.replenishment_agreements": (
        "holding_cost_rate",
        "shipment_cost",
        "stockout_penalty_rate",
        "forecast_bucket",
    ),
}

# ``no_usable_rows``: a structurally valid file that yielded no row to load (codes not mapped for the partner,
# every row rejected, only test interchanges); its reason says which, and it counts among the files not loaded.
LEDGER_STATUSES = ("loaded", "quarantined", "duplicate", "superseded", "no_usable_rows")
