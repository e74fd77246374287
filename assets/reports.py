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
from assets.replenishment import EXCEPTIONS_KEY, PLAN_KEY
from assets.warehouse import DBT_DOCS_KEY, DBT_DOCS_PAGE
from orchestration.runtime.partitions import NIGHTLY_PARTITIONS
from orchestration.runtime.resources import Artefacts, Warehouse
from orchestration.runtime.warehouse_tables import table_exists

REPORT_KEY = dg.AssetKey(["reports", "nightly_report"])
SNAPSHOT_KEY = dg.AssetKey(["reports", "warehouse_snapshot"])


def _frame_if_exists(conn: duckdb.DuckDBPyConnection, table: str, sql: str, params: list) -> pd.DataFrame:
    return conn.execute(sql, params).df() if table_exists(conn, table) else pd.DataFrame()


def read_report_inputs(conn: duckdb.DuckDBPyConnection, business_date: date, run_id: str) -> ReportInputs:
    """Everything the report shows for one business date, from the tables analysts query too."""
    return ReportInputs(
        plan_date=business_date,
        run_id=run_id,
        plan=_frame_if_exists(
            conn,
            "replenishment.replenishment_plan",
            "select partner_id, location_id, product_id, on_hand, inventory_position, safety_stock, reorder_point, "
            "order_up_to, ship_qty, allocated_qty, case_pack, moq, days_of_cover, reason_code "
            "from replenishment.replenishment_plan where plan_date = ? order by partner_id, location_id, product_id",
            [business_date],
        ),
        gate=_frame_if_exists(
            conn,
            "quality.partner_data_gate",
            "select partner_id, status, reasons from quality.partner_data_gate where as_of_date = ? order by 1",
            [business_date],
        ),
        check_failures=_frame_if_exists(
            conn,
            "quality.check_results",
            """select check_name, partner_id, expectation, "column", severity, unexpected_count, examples
               from quality.check_results where as_of_date = ? and not passed order by severity, partner_id""",
            [business_date],
        ),
        forecast=_frame_if_exists(
            conn,
            "forecasts.forecast_history",
            "select partner_id, location_id, product_id, forecast_date, p50, p90 from forecasts.forecast_history "
            "where as_of_date = ?",
            [business_date],
        ),
        sales_history=_frame_if_exists(
            conn,
            "marts.fct_sales_daily",
            "select partner_id, location_id, product_id, sales_date, units_sold from marts.fct_sales_daily "
            "where sales_date between ? - interval 120 day and ? order by sales_date",
            [business_date, business_date],
        ),
        exceptions=_frame_if_exists(
            conn,
            "replenishment.exceptions",
            "select * exclude (plan_date) from replenishment.exceptions where plan_date = ? order by 1, 2, 3",
            [business_date],
        ),
        scorecard=_frame_if_exists(
            conn,
            "marts.partner_scorecard",
            "select * from marts.partner_scorecard order by 1, 2 desc",
            [],
        ),
        feed_ledger=_frame_if_exists(
            conn,
            "raw.feed_files",
            "select partner_id, path, status, reason from raw.feed_files where status <> 'loaded' "
            "order by received_at desc",
            [],
        ),
    )


@dg.asset(
    key=REPORT_KEY,
    deps=[PLAN_KEY, FORECAST_KEY, PARTNER_GATE_KEY, EXCEPTIONS_KEY, QUALITY_DOCS_KEY, DBT_DOCS_KEY],
    group_name="reports",
    owners=["team:supply-planning"],
    kinds={"html"},
    partitions_def=NIGHTLY_PARTITIONS,
)
def nightly_report(
    context: dg.AssetExecutionContext, warehouse: Warehouse, artefacts: Artefacts
) -> dg.MaterializeResult:
    """Static HTML report of the night: plan per partner, data gate, exceptions, quality results, plots."""
    business_date = date.fromisoformat(context.partition_key)
    with warehouse.connect(read_only=True) as conn:
        inputs = read_report_inputs(conn, business_date, context.run_id)
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
