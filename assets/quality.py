"""Quality gates in Dagster: GX suites as blocking asset checks on the marts, and the per-partner data gate."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import great_expectations as gx
import pandas as pd

from assets.renderers.metadata import markdown_preview
from expectations.docs import write_validation_record
from expectations.inventory import inventory_daily_suite
from expectations.raw_feeds import raw_sales_suite, raw_stock_snapshots_suite
from expectations.reconciliation import stock_reconciliation_suite
from expectations.runner import SEVERITY_ERROR, blocking_partners, run_suite_by_partner
from expectations.sales import sales_daily_suite
from expectations.store import CHECK_RESULTS_TABLE, ensure_quality_schema, store_outcomes
from expectations.volume import feed_volume_suite, partner_daily_volume
from orchestration.runtime import settings
from orchestration.runtime.partitions import NIGHTLY_PARTITIONS, known_before
from orchestration.runtime.resources import Warehouse

GROUP = "quality"
OWNER = "team:data-quality"

# The nightly question is whether today's numbers can be trusted; older rows were judged on their own nights.
RECENT_WINDOW_DAYS = 28

PARTNER_GATE_KEY = dg.AssetKey(["quality", "partner_data_gate"])


@dataclass(frozen=True)
class SuiteCheck:
    """One GX suite run per partner on the recent rows of the table it guards."""

    name: str
    table: str
    date_column: str
    build_suite: Callable[[date], gx.ExpectationSuite]
    # Turns the recent rows into what the suite judges (e.g. one volume ratio per partner); None = the rows as read.
    prepare: Callable[[pd.DataFrame, date], pd.DataFrame] | None = None
    window_days: int = RECENT_WINDOW_DAYS


SUITE_CHECKS = (
    SuiteCheck("gx_raw_sales", "raw.sales", "period_end", raw_sales_suite),
    SuiteCheck("gx_raw_stock_snapshots", "raw.stock_snapshots", "as_of_date", raw_stock_snapshots_suite),
    # 28 trailing days plus the business date itself give the volume rule a full 28-day median.
    SuiteCheck(
        "gx_feed_volume",
        "raw.sales",
        "period_end",
        feed_volume_suite,
        prepare=lambda rows, as_of: partner_daily_volume(rows, as_of, "period_end", "units_sold"),
        window_days=RECENT_WINDOW_DAYS + 1,
    ),
    SuiteCheck("gx_fct_sales_daily", "marts.fct_sales_daily", "sales_date", sales_daily_suite),
    SuiteCheck("gx_fct_inventory_daily", "marts.fct_inventory_daily", "inventory_date", inventory_daily_suite),
    SuiteCheck(
        "gx_stock_reconciliation", "marts.stock_reconciliation", "reconciliation_date", stock_reconciliation_suite
    ),
)


def validation_results_dir(as_of: date) -> Path:
    """GX's own results of a night, one JSON file per check: what the night's Data Docs are rendered from."""
    return settings.data_dir() / "quality_results" / as_of.isoformat()


def guarded_key(table: str, model_keys: dict[str, dg.AssetKey]) -> dg.AssetKey:
    """dbt models are keyed from the manifest; `raw.*` tables are the ingest assets' own `raw/<table>` keys."""
    return model_keys[table] if table in model_keys else dg.AssetKey(table.split("."))


def _recent_rows(conn, check: SuiteCheck, as_of: date) -> pd.DataFrame:
    start = as_of - timedelta(days=check.window_days - 1)
    # Future-dated rows are selected too: they are exactly what the "no future dates" rule must see.
    sql = f"select * from {check.table} where {check.date_column} >= $start"
    parameters: dict[str, object] = {"start": start}
    if check.table.startswith("raw."):
        # Only files the night could have had: a past night replayed does not judge deliveries that came later.
        sql += f" and source_file_id in ({KNOWN_FILES_SQL})"
        parameters["known_before"] = known_before(as_of)
    # In a fixed order: a suite's example values (and so quality.check_results) are the same on every rerun.
    rows = conn.execute(f"{sql} order by all", parameters).df()
    return check.prepare(rows, as_of) if check.prepare is not None and not rows.empty else rows


KNOWN_FILES_SQL = "select source_file_id from raw.feed_files where coalesce(received_at < $known_before, true)"


def _build_check(check: SuiteCheck, asset_key: dg.AssetKey) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset_key,
        name=check.name,
        blocking=True,
        description=f"Great Expectations suite `{check.name.removeprefix('gx_')}` per partner on the last "
        f"{RECENT_WINDOW_DAYS} days. Failed error rules hold that partner's plan; the run fails only when "
        "no partner can be planned.",
        partitions_def=NIGHTLY_PARTITIONS,
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        as_of = date.fromisoformat(context.partition_key)
        with warehouse.connect() as conn:
            rows = _recent_rows(conn, check, as_of)
            run = run_suite_by_partner(rows, check.build_suite(as_of)) if not rows.empty else None
            outcomes = run.outcomes if run is not None else []
            store_outcomes(
                conn,
                outcomes,
                run_id=context.run.run_id,
                as_of_date=as_of,
                asset_key=asset_key.to_user_string(),
                check_name=check.name,
            )
        write_validation_record(validation_results_dir(as_of), check.name, run)
        held = blocking_partners(outcomes)
        partners = sorted({o.partner_id for o in outcomes})
        failed = pd.DataFrame([o.as_row() for o in outcomes if not o.passed])
        nothing_plannable = not partners or set(held) == set(partners)
        return dg.AssetCheckResult(
            passed=not any(not o.passed for o in outcomes) and bool(partners),
            severity=dg.AssetCheckSeverity.ERROR if nothing_plannable else dg.AssetCheckSeverity.WARN,
            metadata={
                "rows_checked": len(rows),
                "expectations_evaluated": len(outcomes),
                "partners_checked": len(partners),
                "partners_held": dg.MetadataValue.json(held),
                "failures": dg.MetadataValue.md(
                    markdown_preview(
                        failed[
                            [
                                "partner_id",
                                "expectation",
                                "column",
                                "severity",
                                "unexpected_count",
                                "examples",
                            ]
                        ]
                        if not failed.empty
                        else failed
                    )
                ),
            },
        )

    return _check


def build_quality_checks(mart_keys: dict[str, dg.AssetKey]) -> list[dg.AssetChecksDefinition]:
    """One blocking GX check per guarded mart; `mart_keys` maps `schema.table` to the dbt asset's key."""
    return [_build_check(check, guarded_key(check.table, mart_keys)) for check in SUITE_CHECKS]


def build_partner_gate(mart_keys: dict[str, dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=PARTNER_GATE_KEY,
        deps=sorted({guarded_key(check.table, mart_keys) for check in SUITE_CHECKS}, key=str),
        group_name=GROUP,
        owners=[OWNER],
        kinds={"duckdb", "great_expectations"},
        partitions_def=NIGHTLY_PARTITIONS,
    )
    def partner_data_gate(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        """One row per partner and business date: may its data reach the forecast and plan (pass, warn or held)?"""
        as_of = date.fromisoformat(context.partition_key)
        with warehouse.connect() as conn:
            ensure_quality_schema(conn)
            conn.execute(
                """create table if not exists quality.partner_data_gate (
                       as_of_date date, partner_id varchar, status varchar, failed_errors integer,
                       failed_warnings integer, reasons varchar, run_id varchar)"""
            )
            gate = conn.execute(
                f"""
                select ?::date as as_of_date, partner_id,
                       case when count(*) filter (where not passed and severity = ?) > 0 then 'held'
                            when count(*) filter (where not passed) > 0 then 'warn'
                            else 'pass' end as status,
                       count(*) filter (where not passed and severity = ?) as failed_errors,
                       count(*) filter (where not passed and severity <> ?) as failed_warnings,
                       -- Ordered, so a rerun of the night writes the same text.
                       string_agg(distinct failure, '; ' order by failure) as reasons,
                       ? as run_id
                from (
                    select *,
                           case when not passed then suite || ': ' || expectation
                                || coalesce('(' || "column" || ')', '') || ' [' || severity || ']' end as failure
                    from {CHECK_RESULTS_TABLE}
                    where as_of_date = ?
                )
                group by partner_id order by partner_id
                """,
                [as_of, SEVERITY_ERROR, SEVERITY_ERROR, SEVERITY_ERROR, context.run_id, as_of],
            ).df()
            conn.execute("begin")
            conn.execute("delete from quality.partner_data_gate where as_of_date = ?", [as_of])
            conn.register("gate_frame", gate)
            conn.execute("insert into quality.partner_data_gate select * from gate_frame")
            conn.execute("commit")
        held = gate.loc[gate["status"] == "held", "partner_id"].tolist()
        if held:
            context.log.warning(f"partners held from forecast and plan on {as_of}: {', '.join(held)}")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": len(gate),
                "partners_held": len(held),
                "held_partner_ids": ", ".join(held),
                "gate": dg.MetadataValue.md(markdown_preview(gate.drop(columns=["run_id"]))),
            }
        )

    return partner_data_gate


def plannable_partners(conn, as_of: date) -> list[str]:
    """Partners whose data passed the error-severity rules for this business date."""
    return [
        row[0]
        for row in conn.execute(
            "select partner_id from quality.partner_data_gate where as_of_date = ? and status <> 'held' "
            "order by partner_id",
            [as_of],
        ).fetchall()
    ]
