"""The jobs and schedules: the nightly job at 02:00, ingestion during the day, and the hourly feed-freshness check."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import dagster as dg

from assets.freshness import build_feed_freshness_checks, readable_partner_configs

NIGHTLY_JOB_NAME = "nightly"

# The jobs take their partitions from their assets: the business dates every partitioned asset shares (the start is
# a setting, see orchestration/runtime/partitions.py), while master data stays unpartitioned and is loaded by every
# run that selects it.
# DuckDB has one writer: steps of a night run one after another in one process, never side by side.
# No job-wide `op_retry_policy`: it would also retry a failed dbt model or a bug, which fail the same way every
# time. Steps ask for a retry themselves, only on transient failures (orchestration/runtime/retries.py).
nightly_job = dg.define_asset_job(
    name=NIGHTLY_JOB_NAME,
    selection=dg.AssetSelection.all(),
    executor_def=dg.in_process_executor,
    description="Ingest partner feeds, build the warehouse, check data quality, forecast demand and plan shipments "
    "for one business date.",
)


# Ingestion alone, for deliveries during the day: feeds land in `raw` and are ready when the night starts.
ingest_job = dg.define_asset_job(
    name="ingest_feeds",
    selection=dg.AssetSelection.groups("feeds"),
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


# Feed freshness during the day: a job that runs only the freshness checks, and its hourly schedule. The nightly
# job runs the checks too (it selects every asset and check), and so does every ingestion run, since they target the
# raw feed assets. The hourly job catches what ingestion cannot: a file that never comes.
FEED_FRESHNESS_JOB_NAME = "feed_freshness"
FEED_FRESHNESS_SCHEDULE_NAME = "feed_freshness_hourly"

# A quarter past the hour: a cut-off on the hour is judged within fifteen minutes, and the run does not queue
# behind the 02:00 nightly it would otherwise start with.
HOURLY_CRON = "15 * * * *"


def feed_freshness_job(checks: list[dg.AssetChecksDefinition]) -> dg.UnresolvedAssetJobDefinition:
    """Only the freshness checks: no asset is materialized, so the run takes seconds and loads nothing."""
    return dg.define_asset_job(
        name=FEED_FRESHNESS_JOB_NAME,
        selection=dg.AssetSelection.checks(*checks),
        executor_def=dg.in_process_executor,
        description="Judge every partner feed against its agreed delivery cut-off from the feed ledger, without "
        "loading anything.",
    )


def feed_freshness_schedule(job: dg.UnresolvedAssetJobDefinition, timezone: str) -> dg.ScheduleDefinition:
    """Hourly, stopped until switched on in the UI.

    The checks read the ledger, which fills during the day only when the `partner_landing` sensor ingests
    deliveries; with the sensor off every feed would look missing until the night. So the schedule starts stopped,
    like the sensor, and is switched on together with it. Runs queue behind the nightly (one run at a time).
    """
    return dg.ScheduleDefinition(
        name=FEED_FRESHNESS_SCHEDULE_NAME,
        job=job,
        cron_schedule=HOURLY_CRON,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Every hour: are the partner feeds in by their cut-off? Switch on with the partner_landing sensor.",
    )


@dataclass(frozen=True)
class FeedFreshnessDefinitions:
    """What the composition root adds for feed freshness: the checks, their job and its schedule."""

    asset_checks: list[dg.AssetChecksDefinition] = field(default_factory=list)
    jobs: list[dg.UnresolvedAssetJobDefinition] = field(default_factory=list)
    schedules: list[dg.ScheduleDefinition] = field(default_factory=list)


def feed_freshness_definitions(partner_config_dir: Path, timezone: str) -> FeedFreshnessDefinitions:
    """The checks for every partner config that loads, their check-only job and its hourly schedule."""
    checks = build_feed_freshness_checks(readable_partner_configs(partner_config_dir))
    if not checks:
        return FeedFreshnessDefinitions()
    job = feed_freshness_job(checks)
    return FeedFreshnessDefinitions(asset_checks=checks, jobs=[job], schedules=[feed_freshness_schedule(job, timezone)])
