"""The nightly partitioning: one partition per business (as-of) date.

The partition key is a calendar date label, not an instant: the schedule decides, in the supplier's own time zone,
which date a night plans for, so the partitions need no time zone of their own.
"""

from __future__ import annotations

import dagster as dg

# The first business date a backfill may ask for; partner history in the demo starts later than this.
PARTITIONS_START = "2024-01-01"

# end_offset=1 lets today's date be planned: a supplier east of UTC closes its day before UTC does.
NIGHTLY_PARTITIONS = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1)
