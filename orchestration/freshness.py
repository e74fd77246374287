"""Feed freshness during the day: a job that runs only the freshness checks, and its hourly schedule.

The nightly job runs the checks too (it selects every asset and check), and so does every ingestion run, since
they target the raw feed assets. The hourly job catches what ingestion cannot: a file that never comes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from expectations.freshness_checks import build_feed_freshness_checks, readable_partner_configs

FEED_FRESHNESS_JOB_NAME = "feed_freshness"
FEED_FRESHNESS_SCHEDULE_NAME = "feed_freshness_hourly"

# A quarter past the hour: a cut-off on the hour is judged within fifteen minutes, and the run does not queue
# behind the 02:00 nightly it would otherwise start with.
HOURLY_CRON = "15 * * * *"


@dataclass(frozen=True)
class FeedFreshnessDefinitions:
    """What `orchestration/definitions.py` adds for feed freshness: the checks, their job and its schedule."""

    asset_checks: list[dg.AssetChecksDefinition] = field(default_factory=list)
    jobs: list[dg.UnresolvedAssetJobDefinition] = field(default_factory=list)
    schedules: list[dg.ScheduleDefinition] = field(default_factory=list)


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


def feed_freshness_definitions(partner_config_dir: Path, timezone: str) -> FeedFreshnessDefinitions:
    """The checks for every partner config that loads, their check-only job and its hourly schedule."""
    checks = build_feed_freshness_checks(readable_partner_configs(partner_config_dir))
    if not checks:
        return FeedFreshnessDefinitions()
    job = feed_freshness_job(checks)
    return FeedFreshnessDefinitions(asset_checks=checks, jobs=[job], schedules=[feed_freshness_schedule(job, timezone)])
