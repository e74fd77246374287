"""What people open after a night: the run report and the analysts' read-only snapshot of the warehouse."""

import os
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from assets.forecasts import FORECAST_KEY
from assets.quality import PARTNER_GATE_KEY, QUALITY_DOCS_KEY
from assets.renderers.report import ReportInputs, render_report
from assets.renderers.report.inputs import PLAN_QUERY, read_report_frame
from assets.replenishment import EXCEPTIONS_KEY, EXPORTS_KEY, PLAN_KEY
from assets.warehouse import DBT_DOCS_KEY, DBT_DOCS_PAGE
from orchestration.runtime.partitions import NIGHTLY_PARTITIONS
from orchestration.runtime.resources import Artefacts, Warehouse
from orchestration.runtime.warehouse_tables import table_exists

REPORT_KEY = dg.AssetKey(["reports", "nightly_report"])
SNAPSHOT_KEY = dg.AssetKey(["reports", "warehouse_snapshot"])


def _frame_if_exists(conn: duckdb.DuckDBPyConnection, table: str, sql: str, params: list) -> pd.DataFrame:
    return conn.execute(sql, params).df() if table_exists(conn, table) else pd.DataFrame()


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
    "forecast": (
        "forecasts.forecast_history",
        """select partner_id, location_id, product_id, forecast_date, p50, p90, model, demand_class
           from forecasts.forecast_history where as_of_date = $day""",
    ),
    "sales_history": (
        "marts.fct_sales_daily",
        """select partner_id, location_id, product_id, sales_date, units_sold from marts.fct_sales_daily
           where sales_date between $day - interval 120 day and $day order by sales_date""",
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
    "explanations": (
        "replenishment.plan_explanations",
        "select * from replenishment.plan_explanations where plan_date = $day order by step_number",
    ),
    "inventory_history": (
        "marts.fct_inventory_daily",
        """select partner_id, location_id, product_id, inventory_date, on_hand_qty from marts.fct_inventory_daily
           where inventory_date between $day - interval 28 day and $day""",
    ),
    "receipts": (
        "marts.fct_shipments",
        """select partner_id, location_id, product_id,
                  greatest(coalesce(expected_receipt_date, $day + 1), $day + 1) as receipt_date, sum(qty) as qty
           from marts.fct_shipments where status = 'in_transit' group by all""",
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


def read_report_inputs(conn: duckdb.DuckDBPyConnection, business_date: date, run_id: str) -> ReportInputs:
    """Everything the report shows for one business date, from the tables analysts query too."""
    frames = {name: read_report_frame(conn, query, business_date) for name, query in REPORT_QUERIES.items()}
    return ReportInputs(plan_date=business_date, run_id=run_id, **frames)


@dg.asset(
    key=REPORT_KEY,
    deps=[PLAN_KEY, FORECAST_KEY, PARTNER_GATE_KEY, EXCEPTIONS_KEY, EXPORTS_KEY, QUALITY_DOCS_KEY, DBT_DOCS_KEY],
    group_name="reports",
    owners=["team:supply-planning"],
    kinds={"html"},
    partitions_def=NIGHTLY_PARTITIONS,
)
def nightly_report(
    context: dg.AssetExecutionContext, warehouse: Warehouse, artefacts: Artefacts
) -> dg.MaterializeResult:
    """Static HTML report of the night for planners: headline, act-today list, a page per partner and per item."""
    business_date = date.fromisoformat(context.partition_key)
    with warehouse.connect(read_only=True) as conn:
        inputs = read_report_inputs(conn, business_date, context.run_id)
    inputs.exports_dir = artefacts.exports()
    inputs.docs_links = {
        "Data quality results (Great Expectations Data Docs)": artefacts.quality_docs(business_date) / "index.html",
        "Warehouse models, lineage and columns (dbt docs)": artefacts.dbt_docs() / DBT_DOCS_PAGE,
    }
    page = render_report(inputs, artefacts.report(business_date))
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(page)),
            # A link to open from the run's page (the path above is for copying).
            "url": dg.MetadataValue.url(page.resolve().as_uri()),
            "plan_rows": len(inputs.plan),
            "failed_checks": len(inputs.check_failures),
            "exceptions": len(inputs.exceptions),
        }
    )


def publish_snapshot(source: Path, target: Path) -> Path:
    """Copy a checkpointed warehouse next to `target` and rename it into place, so a reader never sees half a file.

    Analysts open the snapshot read-only while the next night writes the live file: no lock is ever shared.
    """
    with duckdb.connect(str(source)) as conn:
        conn.execute("checkpoint")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, staging)
    os.replace(staging, target)
    return target


@dg.asset(
    key=SNAPSHOT_KEY,
    deps=[REPORT_KEY],
    group_name="reports",
    owners=["team:data-engineering"],
    kinds={"duckdb"},
    partitions_def=NIGHTLY_PARTITIONS,
)
def warehouse_snapshot(
    context: dg.AssetExecutionContext, warehouse: Warehouse, artefacts: Artefacts
) -> dg.MaterializeResult:
    """Read-only copy of the warehouse published after the night, for analysts to query while runs write."""
    target = publish_snapshot(warehouse.resolved_path(), artefacts.snapshot())
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(target)), "bytes": target.stat().st_size})
