"""What people open after a night: the run report and the analysts' read-only snapshot of the warehouse."""

import os
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from assets.forecasts import FORECAST_KEY
from assets.quality import PARTNER_GATE_KEY, QUALITY_DOCS_KEY
from assets.renderers.report import render_report
from assets.renderers.report.queries import read_report_inputs
from assets.replenishment import EXCEPTIONS_KEY, EXPORTS_KEY, PLAN_KEY
from assets.warehouse import DBT_DOCS_KEY, DBT_DOCS_PAGE
from orchestration.runtime.partitions import NIGHTLY_PARTITIONS
from orchestration.runtime.resources import Artefacts, Warehouse

REPORT_KEY = dg.AssetKey(["reports", "nightly_report"])
SNAPSHOT_KEY = dg.AssetKey(["reports", "warehouse_snapshot"])


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
    """Static HTML report of the night for planners: headline, act-today list, a page per partner and per item
    acted on (up to a cap; the other items are rows on the partner pages and in the exports)."""
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
