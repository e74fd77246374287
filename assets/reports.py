"""What leaves the warehouse after a night: per-partner plan files, the run report, the analyst snapshot."""

import os
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from assets.docs import DBT_DOCS_KEY, QUALITY_DOCS_KEY, dbt_docs_dir, quality_docs_dir
from assets.forecasts import EXCEPTIONS_KEY, FORECAST_KEY, PLAN_KEY
from assets.quality import PARTNER_GATE_KEY
from assets.renderers.partner_exports import write_partner_exports
from assets.renderers.report import ReportInputs, render_report
from forecasts.replenishment.plan_history import plan_version
from orchestration.runtime import settings
from orchestration.runtime.partitions import NIGHTLY_PARTITIONS
from orchestration.runtime.resources import Warehouse

REPORT_KEY = dg.AssetKey(["reports", "nightly_report"])
SNAPSHOT_KEY = dg.AssetKey(["reports", "warehouse_snapshot"])
EXPORTS_KEY = dg.AssetKey(["replenishment", "partner_exports"])


def report_dir(plan_date: date) -> Path:
    return settings.data_dir() / "reports" / plan_date.isoformat()


def _frame_if_exists(conn: duckdb.DuckDBPyConnection, table: str, sql: str, params: list) -> pd.DataFrame:
    schema, name = table.split(".")
    exists = conn.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
    ).fetchone()[0]
    return conn.execute(sql, params).df() if exists else pd.DataFrame()


def read_report_inputs(conn: duckdb.DuckDBPyConnection, plan_date: date, run_id: str) -> ReportInputs:
    """Everything the report shows for one business date, from the tables analysts query too."""
    return ReportInputs(
        plan_date=plan_date,
        run_id=run_id,
        plan=_frame_if_exists(
            conn,
            "replenishment.replenishment_plan",
            "select partner_id, location_id, product_id, on_hand, inventory_position, safety_stock, reorder_point, "
            "order_up_to, ship_qty, allocated_qty, case_pack, moq, days_of_cover, reason_code "
            "from replenishment.replenishment_plan where plan_date = ? order by partner_id, location_id, product_id",
            [plan_date],
        ),
        gate=_frame_if_exists(
            conn,
            "quality.partner_data_gate",
            "select partner_id, status, reasons from quality.partner_data_gate where as_of_date = ? order by 1",
            [plan_date],
        ),
        check_failures=_frame_if_exists(
            conn,
            "quality.check_results",
            """select check_name, partner_id, expectation, "column", severity, unexpected_count, examples
               from quality.check_results where as_of_date = ? and not passed order by severity, partner_id""",
            [plan_date],
        ),
        forecast=_frame_if_exists(
            conn,
            "forecasts.forecast_history",
            "select partner_id, location_id, product_id, forecast_date, p50, p90 from forecasts.forecast_history "
            "where as_of_date = ?",
            [plan_date],
        ),
        sales_history=_frame_if_exists(
            conn,
            "marts.fct_sales_daily",
            "select partner_id, location_id, product_id, sales_date, units_sold from marts.fct_sales_daily "
            "where sales_date between ? - interval 120 day and ? order by sales_date",
            [plan_date, plan_date],
        ),
        exceptions=_frame_if_exists(
            conn,
            "replenishment.exceptions",
            "select * exclude (plan_date) from replenishment.exceptions where plan_date = ? order by 1, 2, 3",
            [plan_date],
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
    group_name="replenishment",
    owners=["team:supply-planning"],
    kinds={"html"},
    partitions_def=NIGHTLY_PARTITIONS,
)
def nightly_report(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Static HTML report of the night: plan per partner, data gate, exceptions, quality results, plots."""
    plan_date = date.fromisoformat(context.partition_key)
    with warehouse.connect(read_only=True) as conn:
        inputs = read_report_inputs(conn, plan_date, context.run_id)
    inputs.docs_links = {
        "Data quality results (Great Expectations Data Docs)": quality_docs_dir(plan_date) / "index.html",
        "Warehouse models, lineage and columns (dbt docs)": dbt_docs_dir() / "static_index.html",
    }
    page = render_report(inputs, report_dir(plan_date))
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(page)),
            "plan_rows": len(inputs.plan),
            "failed_checks": len(inputs.check_failures),
        }
    )


def snapshot_path() -> Path:
    return settings.data_dir() / "snapshots" / "warehouse.duckdb"


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
    group_name="replenishment",
    owners=["team:data-engineering"],
    kinds={"duckdb"},
    partitions_def=NIGHTLY_PARTITIONS,
)
def warehouse_snapshot(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Read-only copy of the warehouse published after the night, for analysts to query while runs write."""
    target = publish_snapshot(warehouse.resolved_path(), snapshot_path())
    return dg.MaterializeResult(metadata={"path": dg.MetadataValue.path(str(target)), "bytes": target.stat().st_size})


@dg.asset(
    key=EXPORTS_KEY,
    deps=[PLAN_KEY],
    group_name="replenishment",
    owners=["team:supply-planning"],
    kinds={"csv", "json"},
    partitions_def=NIGHTLY_PARTITIONS,
)
def partner_exports(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """One CSV and one JSON file per partner under data/exports/<partner>/, holding only that partner's rows."""
    as_of = date.fromisoformat(context.partition_key)
    with warehouse.connect(read_only=True) as conn:
        plan = plan_version(conn, as_of)
    paths = write_partner_exports(plan, settings.data_dir() / "exports", as_of)
    return dg.MaterializeResult(
        metadata={
            "files": dg.MetadataValue.md("\n".join(f"- `{path}`" for path in paths) or "_no plan rows_"),
            "partners": plan["partner_id"].nunique() if not plan.empty else 0,
        }
    )
