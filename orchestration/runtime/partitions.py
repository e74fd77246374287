"""The nightly partitioning: one partition per business (as-of) date.

The partition key is a calendar date label, not an instant: the schedule decides, in the supplier's own time zone,
which date a night plans for, so the partitions need no time zone of their own.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import dagster as dg

# The first business date a backfill may ask for; partner history in the demo starts later than this.
PARTITIONS_START = "2024-01-01"

# end_offset=1 lets today's date be planned: a supplier east of UTC closes its day before UTC does.
NIGHTLY_PARTITIONS = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1)

# A night sees the partner files received before midnight UTC at the end of the day after its business date: all
# of a live run's deliveries, and for a past night only what had arrived then. Later files (next days' feeds,
# resends) would otherwise make a backfilled night judge and plan on data it could not have had.
KNOWLEDGE_DAYS_AFTER_BUSINESS_DATE = 2


def known_before(business_date: date) -> datetime:
    """The first instant (UTC, naive as the ledger's ``received_at``) whose deliveries the night of
    ``business_date`` does not see."""
    return datetime.combine(business_date + timedelta(days=KNOWLEDGE_DAYS_AFTER_BUSINESS_DATE), time())
