"""The nightly partitioning: one partition per business (as-of) date.

The partition key is a calendar date label, not an instant: the schedule decides, in the supplier's own time zone,
which date a night plans for, so the partitions need no time zone of their own.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import dagster as dg

from orchestration.runtime.settings import DEFAULT_PARTITIONS_START


def nightly_partitions(start: str = DEFAULT_PARTITIONS_START) -> dg.DailyPartitionsDefinition:
    """One partition per business date from ``start`` (YYYY-MM-DD).

    end_offset=1 lets today's date be planned: a supplier east of UTC closes its day before UTC does.
    """
    return dg.DailyPartitionsDefinition(start_date=start, end_offset=1)


# The partitions the asset modules declare. The composition root swaps in `nightly_partitions(setting)` when the
# setting names another start (see orchestration/definitions.py), so no module reads the environment at import.
NIGHTLY_PARTITIONS = nightly_partitions()


def with_partitions(assets: dg.AssetsDefinition, partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The same assets on ``partitions_def``; unpartitioned assets (master data) stay unpartitioned."""
    if partitions_def == NIGHTLY_PARTITIONS:
        return assets
    return assets.map_asset_specs(
        lambda spec: spec.replace_attributes(partitions_def=partitions_def) if spec.partitions_def else spec
    )


# A night sees the partner files received before midnight UTC at the end of the day after its business date: all
# of a live run's deliveries, and for a past night only what had arrived then. Later files (next days' feeds,
# resends) would otherwise make a backfilled night judge and plan on data it could not have had.
KNOWLEDGE_DAYS_AFTER_BUSINESS_DATE = 2


def known_before(business_date: date) -> datetime:
    """The first instant (UTC, naive as the ledger's ``received_at``) whose deliveries the night of
    ``business_date`` does not see."""
    return datetime.combine(business_date + timedelta(days=KNOWLEDGE_DAYS_AFTER_BUSINESS_DATE), time())
