"""The nightly job and its 02:00 schedule."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from orchestration.partitions import NIGHTLY_PARTITIONS

NIGHTLY_JOB_NAME = "nightly"

# DuckDB has one writer: steps of a night run one after another in one process, never side by side.
# No job-wide `op_retry_policy`: it would also retry a failed dbt model or a bug, which fail the same way every
# time. Steps ask for a retry themselves, only on transient failures (orchestration/retries.py).
nightly_job = dg.define_asset_job(
    name=NIGHTLY_JOB_NAME,
    selection=dg.AssetSelection.all(),
    partitions_def=NIGHTLY_PARTITIONS,
    executor_def=dg.in_process_executor,
    description="Ingest partner feeds, build the warehouse, check data quality, forecast demand and plan shipments "
    "for one business date.",
)


# Ingestion alone, for deliveries during the day: feeds land in `raw` and are ready when the night starts.
ingest_job = dg.define_asset_job(
    name="ingest_feeds",
    selection=dg.AssetSelection.groups("feeds"),
    partitions_def=NIGHTLY_PARTITIONS,
    executor_def=dg.in_process_executor,
    description="Load new partner deliveries and supplier master data into the raw schema.",
)


def nightly_schedule(timezone: str) -> dg.ScheduleDefinition:
    """Fire at 02:00 in the supplier's time zone and plan for the business day that just ended there."""

    @dg.schedule(
        cron_schedule="0 2 * * *",
        job=nightly_job,
        execution_timezone=timezone,
        name="nightly_at_0200",
        description=f"Every night at 02:00 ({timezone}) for the previous business date.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        business_date = (context.scheduled_execution_time - timedelta(days=1)).date().isoformat()
        return dg.RunRequest(run_key=business_date, partition_key=business_date)

    return _schedule
