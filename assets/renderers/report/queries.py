"""What the report reads from the warehouse: the night's tables whole, the item pages' history only for the lines
with a page (a key table joined in SQL)."""

from __future__ import annotations

from datetime import date

import duckdb

from assets.renderers.report.inputs import PLAN_QUERY, ReportInputs, read_report_frame
from assets.renderers.report.selection import select_item_pages
from assets.renderers.report.views import KEY

# What the report reads, table by table: (field of ReportInputs, table that must exist, SQL with `?` for the date).
REPORT_QUERIES = {
    "plan": PLAN_QUERY,
    "gate": (
        "quality.partner_data_gate",
        "select * from quality.partner_data_gate where as_of_date = $day order by partner_id",
    ),
    "check_failures": (
        "quality.check_results",
        """select check_name, suite, partner_id, expectation, "column", severity, unexpected_count, examples,
                  observed_value, threshold
           from quality.check_results where as_of_date = $day and not passed order by severity, partner_id""",
    ),
    "exceptions": (
        "replenishment.exceptions",
        "select * exclude (plan_date) from replenishment.exceptions where plan_date = $day order by 1, 2, 3",
    ),
    "scorecard": (
        "marts.partner_scorecard",
        "select * from marts.partner_scorecard where week_start <= $day order by partner_id, week_start desc",
    ),
    "feed_ledger": (
        "intermediate.int_feed_files_dated",
        """select partner_id, file_path as path, record_type, business_date, received_at, status,
                  status_reason as reason, hours_late
           from intermediate.int_feed_files_dated
           where coalesce(business_date, received_at::date) between $day - interval 14 day and $day
             and (status = 'quarantined' or is_late)""",
    ),
    "products": ("marts.dim_product", "select product_id, product_description, gtin from marts.dim_product"),
    "locations": (
        "marts.dim_location",
        "select partner_id, location_id, location_name, city, partner_name, gln from marts.dim_location",
    ),
    "partners": ("marts.dim_partner", "select partner_id, partner_name from marts.dim_partner"),
    # Per night and partner, the newest plan version: lines and units needed and shipping.
    "plan_trend": (
        "replenishment.plan_history",
        """with newest as (
               select plan_date, max(version) as version from replenishment.plan_history
               where plan_date between $day - interval 60 day and $day group by plan_date)
           select plan_date, partner_id,
                  count(*) filter (where ship_qty > 0) as lines_needed, sum(ship_qty) as units_needed,
                  count(*) filter (where coalesce(allocated_qty, ship_qty) > 0) as lines_shipping,
                  sum(coalesce(allocated_qty, ship_qty)) as units_shipping
           from replenishment.plan_history join newest using (plan_date, version)
           group by all order by plan_date, partner_id""",
    ),
    "gate_history": (
        "quality.partner_data_gate",
        """select as_of_date, partner_id, status from quality.partner_data_gate
           where as_of_date between $day - interval 60 day and $day order by as_of_date""",
    ),
    "accuracy_history": (
        "forecasts.forecast_accuracy_by_partner",
        """select as_of_date, partner_id, wape, bias, p90_coverage, periods_scored
           from forecasts.forecast_accuracy_by_partner
           where as_of_date between $day - interval 60 day and $day and periods_scored > 0 order by as_of_date""",
    ),
    "value_added": (
        "forecasts.forecast_value_added",
        "select * from forecasts.forecast_value_added where week_start <= $day order by partner_id, week_start desc",
    ),
    # The rows behind the commonest data-gate failures, so a planner can name them to the partner.
    "offending_rows": (
        "marts.stock_reconciliation",
        """select partner_id, 'stock below zero' as rule, location_id, product_id, inventory_date as date,
                  on_hand_qty as value, null as detail
           from marts.fct_inventory_daily
           where inventory_date between $day - interval 7 day and $day and is_observed and on_hand_qty < 0
           union all
           select partner_id, 'count does not reconcile', location_id, product_id, reconciliation_date,
                  gap_qty, 'expected ' || round(expected_on_hand_qty, 1) || ', counted ' || reported_on_hand_qty
           from marts.stock_reconciliation
           where reconciliation_date between $day - interval 7 day and $day and is_above_tolerance
           order by 1, 2, 5 desc, 3, 4""",
    ),
}


# What only the item pages show, read for the lines with a page alone: each query joins `report_items`, the key
# table of those lines (see `select_item_pages`), so the rows read grow with the page cap, not with the series.
ITEM_QUERIES = {
    "forecast": (
        "forecasts.forecast_history",
        """select partner_id, location_id, product_id, forecast_date, p50, p90, model, demand_class
           from forecasts.forecast_history join report_items using (partner_id, location_id, product_id)
           where as_of_date = $day""",
    ),
    "sales_history": (
        "marts.fct_sales_daily",
        """select partner_id, location_id, product_id, sales_date, units_sold
           from marts.fct_sales_daily join report_items using (partner_id, location_id, product_id)
           where sales_date between $day - interval 120 day and $day order by sales_date""",
    ),
    "explanations": (
        "replenishment.plan_explanations",
        """select plan_explanations.* from replenishment.plan_explanations
           join report_items using (partner_id, location_id, product_id)
           where plan_date = $day order by step_number""",
    ),
    "inventory_history": (
        "marts.fct_inventory_daily",
        """select partner_id, location_id, product_id, inventory_date, on_hand_qty
           from marts.fct_inventory_daily join report_items using (partner_id, location_id, product_id)
           where inventory_date between $day - interval 28 day and $day""",
    ),
    "receipts": (
        "marts.fct_shipments",
        """select partner_id, location_id, product_id,
                  greatest(coalesce(expected_receipt_date, $day + 1), $day + 1) as receipt_date, sum(qty) as qty
           from marts.fct_shipments join report_items using (partner_id, location_id, product_id)
           where status = 'in_transit' group by all""",
    ),
}


def read_report_inputs(conn: duckdb.DuckDBPyConnection, business_date: date, run_id: str) -> ReportInputs:
    """Everything the report shows for one business date, from the tables analysts query too; the per-item
    history only for the lines that get an item page."""
    frames = {name: read_report_frame(conn, query, business_date) for name, query in REPORT_QUERIES.items()}
    keys = select_item_pages(frames["plan"], frames["exceptions"]).keys[KEY]
    with conn.cursor() as items:  # its own view of the key table, next to the connection's open results
        items.register("report_items", keys)
        frames |= {name: read_report_frame(items, query, business_date) for name, query in ITEM_QUERIES.items()}
    return ReportInputs(plan_date=business_date, run_id=run_id, **frames)
