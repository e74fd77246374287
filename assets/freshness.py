"""Feed freshness as Dagster asset checks: one per partner feed, on the raw table that receives the feed.

`<partner>__<record_type>_fresh` sits on `raw/stock_snapshots`, `raw/sales` or `raw/partner_forecasts`, so each raw
table's Checks tab lists every partner sending it, and one partner's late file never hides another's. The checks
judge the feed ledger (`raw.feed_files`) against the agreed cut-off in `raw.partners` (the partner YAML when master
data does not list the partner), with the rules in `expectations/freshness.py`: WARN when a file came after the
cut-off or is overdue within the grace period, ERROR when it is missing past cut-off and grace. They never block:
a late feed leaves the plan working from older data, which `replenishment.exceptions` already reports as a stale
feed.

Dagster's own freshness does not fit here. A `FreshnessPolicy.cron` on an asset (or
`build_last_update_freshness_checks`) judges when Dagster last recorded that asset, in one time zone per policy.
The raw tables hold every partner and are recorded by every ingestion run, so their time says nothing about one
partner. Per-partner `landing/<partner>` assets with a cron policy at each cut-off would know only when we noticed
files, not when the partner delivered them (`received_at`), would count a quarantined file as fresh, cannot tell
which business date a file reports, and have no warning before the error; the policies are also still a preview
that the instance must switch on (`freshness: enabled`). The ledger knows all of that, so the checks read it.
"""

import json
import logging
from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dagster as dg
import duckdb
import pandas as pd

from assets.feeds.contracts import FEED_LEDGER_TABLE, RAW_FEED_TABLES
from assets.feeds.errors import PartnerConfigError
from assets.feeds.loading.raw_schema import ensure_raw_schema
from assets.feeds.partner_config import PartnerConfig, load_partner_configs
from assets.renderers.metadata import markdown_preview
from expectations.freshness import (
    DEFAULT_GRACE,
    LEVEL_ERROR,
    Delivery,
    DeliverySchedule,
    FeedFreshness,
    feed_cadences,
    judge_feed,
    parse_cutoff,
)
from expectations.runner import SEVERITY_WARNING, ExpectationOutcome
from expectations.store import store_outcomes
from orchestration.runtime import settings
from orchestration.runtime.resources import Warehouse

logger = logging.getLogger(__name__)

SUITE = "feed_freshness"
EXPECTATION = "feed_delivered_by_cutoff"

# Where each feed lands: the checks sit on these assets.
FEED_ASSET_KEYS = {record_type: dg.AssetKey(table.split(".")) for record_type, table in RAW_FEED_TABLES.items()}


def freshness_check_name(partner_id: str, record_type: str) -> str:
    return f"{partner_id}__{record_type}_fresh"


def freshness_check_key(partner_id: str, record_type: str) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(FEED_ASSET_KEYS[record_type], freshness_check_name(partner_id, record_type))


def readable_partner_configs(config_dir: Path) -> dict[str, PartnerConfig]:
    """Every partner YAML that loads; a broken one is logged and left out.

    The checks are made when the code location loads: one partner's typo must not take the nightly schedule and
    every other partner's checks down with it (its ingestion runs fail on it, loudly, anyway).
    """

    def skip(path: Path, error: PartnerConfigError) -> None:
        logger.warning("no feed freshness checks for %s: %s", path.name, error)

    return load_partner_configs(config_dir, on_error=skip)


def build_feed_freshness_checks(
    configs: Mapping[str, PartnerConfig], grace: timedelta = DEFAULT_GRACE
) -> list[dg.AssetChecksDefinition]:
    """One non-blocking check per partner and record type its config has files for, run together in one step."""
    specs = [
        dg.AssetCheckSpec(
            name=freshness_check_name(partner_id, record_type),
            asset=FEED_ASSET_KEYS[record_type],
            description=_description(config, record_type, cadence, grace),
            blocking=False,
            metadata={"partner_id": partner_id, "record_type": record_type, "cadence": cadence},
        )
        for partner_id, config in sorted(configs.items())
        for record_type, cadence in feed_cadences(config).items()
    ]
    if not specs:
        return []

    @dg.multi_asset_check(
        name="partner_feed_freshness",
        specs=specs,
        can_subset=True,
        description="Partner feeds against their agreed delivery cut-off, from the feed ledger.",
    )
    def partner_feed_freshness(context: dg.AssetCheckExecutionContext, warehouse: Warehouse):
        now = datetime.now(UTC)
        business_date = date.fromisoformat(context.partition_key) if context.has_partition_key else None
        with warehouse.connect() as conn:
            results = judge_feeds(conn, configs, context.selected_asset_check_keys, now, business_date, grace)
            store_results(conn, results, context.run.run_id, business_date or _current_business_date(now))
        for result in results:
            if not result.passed:
                context.log.warning(result.summary())
            yield check_result(result)

    return [partner_feed_freshness]


def judge_feeds(
    conn: duckdb.DuckDBPyConnection,
    configs: Mapping[str, PartnerConfig],
    check_keys: Collection[dg.AssetCheckKey],
    now: datetime,
    business_date: date | None,
    grace: timedelta = DEFAULT_GRACE,
) -> list[FeedFreshness]:
    """Each partner feed with a key in ``check_keys``, judged on the ledger against the agreed cut-off.

    ``business_date`` is the run's partition, if any: an old night is judged as it stood then (see
    `DeliverySchedule.judged_at`).
    """
    ensure_raw_schema(conn)
    agreed = agreed_cutoffs(conn)
    results = []
    for partner_id, config in sorted(configs.items()):
        timezone, cutoff = agreed.get(partner_id, (None, None))
        schedule = DeliverySchedule.from_config(config, timezone=timezone, feed_cutoff=cutoff, grace=grace)
        record_types = [
            record_type
            for record_type in schedule.cadences
            if freshness_check_key(partner_id, record_type) in check_keys
        ]
        if not record_types:
            continue
        deliveries = partner_deliveries(conn, partner_id, schedule.timezone)
        at = schedule.judged_at(now, business_date)
        results += [judge_feed(schedule, record_type, deliveries, at) for record_type in record_types]
    return results


def store_results(
    conn: duckdb.DuckDBPyConnection, results: list[FeedFreshness], run_id: str, business_date: date
) -> None:
    """One `quality.check_results` row per feed, replacing that check's row for the business date."""
    for result in results:
        store_outcomes(
            conn,
            [as_outcome(result)],
            run_id=run_id,
            as_of_date=business_date,
            asset_key=FEED_ASSET_KEYS[result.record_type].to_user_string(),
            check_name=freshness_check_name(result.partner_id, result.record_type),
        )


def _description(config: PartnerConfig, record_type: str, cadence: str, grace: timedelta) -> str:
    rhythm = "the next day" if cadence == "daily" else "the day after each weekly period"
    return (
        f"{config.name}'s {record_type} feed ({cadence}): files for a business date are due {rhythm} at the agreed "
        f"cut-off ({config.feed_cutoff} {config.timezone} in the partner config; `raw.partners` wins when it "
        f"differs). WARN when a file came late or is overdue; ERROR when still missing {_hours_text(grace)} after "
        "the cut-off. Quarantined files do not count as delivered."
    )


def _hours_text(grace: timedelta) -> str:
    return f"{grace.total_seconds() / 3600:g} h"


def _current_business_date(now: datetime) -> date:
    """The business date daytime runs work for, as the landing sensor names it: yesterday in the supplier's zone."""
    return (now.astimezone(ZoneInfo(settings.schedule_timezone())) - timedelta(days=1)).date()


def agreed_cutoffs(conn: duckdb.DuckDBPyConnection) -> dict[str, tuple[str | None, time | None]]:
    """partner_id -> (time zone, cut-off) from `raw.partners`, the values the scorecard's hours late use too.

    A value that is empty or unreadable is None, so the partner config's value stands in for it.
    """
    agreed = {}
    for partner_id, timezone, cutoff in conn.execute(
        "select partner_id, timezone, feed_cutoff_local from raw.partners"
    ).fetchall():
        try:
            zone = str(ZoneInfo(timezone)) if timezone else None
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
        agreed[partner_id] = (zone, parse_cutoff(cutoff))
    return agreed


# Per file: the first and last business date its lines report. As in `int_feed_files_dated`, a stock or sales line
# dated after the file arrived (a typo, a planned count) does not make the file newer.
_DELIVERIES_SQL = f"""
with files as (
    select
        source_file_id, path, record_type, status, received_at,
        cast(timezone($timezone, timezone('UTC', received_at)) as date) as received_local_date
    from {FEED_LEDGER_TABLE}
    where partner_id = $partner_id
),
lines as (
    select source_file_id, 'stock' as record_type, as_of_date as first_date, as_of_date as last_date
    from {RAW_FEED_TABLES["stock"]} where partner_id = $partner_id group by all
    union all
    select source_file_id, 'sales', coalesce(period_start, period_end), coalesce(period_end, period_start)
    from {RAW_FEED_TABLES["sales"]} where partner_id = $partner_id group by all
    union all
    select source_file_id, 'forecast', forecast_date, forecast_date
    from {RAW_FEED_TABLES["forecast"]} where partner_id = $partner_id group by all
)
select
    files.path, files.record_type, files.status, files.received_at,
    min(lines.first_date) filter (
        where lines.last_date <= files.received_local_date or files.record_type = 'forecast'
    ) as first_business_date,
    max(lines.last_date) filter (
        where lines.last_date <= files.received_local_date or files.record_type = 'forecast'
    ) as last_business_date
from files
left join lines
    on lines.source_file_id = files.source_file_id and lines.record_type = files.record_type
group by files.source_file_id, files.path, files.record_type, files.status, files.received_at
order by files.received_at
"""


def partner_deliveries(conn: duckdb.DuckDBPyConnection, partner_id: str, timezone: str) -> list[Delivery]:
    """The partner's ledger rows with the business dates each file reports."""
    rows = conn.execute(_DELIVERIES_SQL, {"partner_id": partner_id, "timezone": timezone}).fetchall()
    return [
        Delivery(
            record_type=record_type,
            status=status,
            received_at=received_at,
            first_business_date=first,
            last_business_date=last,
            path=path or "",
        )
        for path, record_type, status, received_at, first, last in rows
    ]


def check_result(result: FeedFreshness) -> dg.AssetCheckResult:
    """The Dagster result: pass, WARN (late, or overdue within grace) or ERROR (missing past cut-off and grace)."""
    return dg.AssetCheckResult(
        asset_key=FEED_ASSET_KEYS[result.record_type],
        check_name=freshness_check_name(result.partner_id, result.record_type),
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR if result.level == LEVEL_ERROR else dg.AssetCheckSeverity.WARN,
        description=result.summary(),
        metadata={
            "status": result.status,
            "hours_late": dg.MetadataValue.float(result.hours_late),
            "hours_overdue": dg.MetadataValue.float(result.hours_overdue or 0.0),
            "business_date": _text(result.business_date),
            "last_delivered_business_date": _text(result.last_business_date),
            "due_at_local": _text(result.due_at_local),
            "due_at_utc": _text(result.due_at),
            "received_at_utc": _text(result.received_at),
            "feed_cutoff": f"{result.feed_cutoff:%H:%M} {result.timezone}",
            "grace_hours": dg.MetadataValue.float(result.grace.total_seconds() / 3600),
            "evaluated_at_utc": _text(result.evaluated_at),
            "recent_late_or_missing": dg.MetadataValue.int(result.recent_misses),
            "recent_deliveries": dg.MetadataValue.md(markdown_preview(recent_frame(result), rows=10)),
        },
    )


def recent_frame(result: FeedFreshness) -> pd.DataFrame:
    """The recent due dates of a feed, newest first, in the partner's local time."""
    zone = ZoneInfo(result.timezone)
    return pd.DataFrame(
        [
            {
                "business_date": str(due.business_date),
                "due (local)": f"{due.due_at.astimezone(zone):%Y-%m-%d %H:%M %Z}",
                "received (local)": f"{due.received_at.astimezone(zone):%Y-%m-%d %H:%M %Z}"
                if due.received_at is not None
                else "not delivered",
                "hours_late": due.hours_late,
            }
            for due in reversed(result.recent)
        ]
    )


def as_outcome(result: FeedFreshness) -> ExpectationOutcome:
    """The row for `quality.check_results`: status and hours in `observed_value`, the deadline in `threshold`.

    Stored as a warning whatever Dagster shows: an `error` row holds the partner at `quality.partner_data_gate`,
    and a missing feed is a reason to chase the partner, not to stop shipping to it.
    """
    misses = [due for due in result.recent if due.hours_late is None or due.hours_late > 0]
    return ExpectationOutcome(
        suite=SUITE,
        partner_id=result.partner_id,
        expectation=EXPECTATION,
        column=result.record_type,
        severity=SEVERITY_WARNING,
        passed=result.passed,
        element_count=len(result.recent),
        unexpected_count=len(misses),
        observed_value=json.dumps(
            {
                "status": result.status,
                "level": result.level,
                "business_date": _text(result.business_date),
                "hours_late": result.hours_late,
                "hours_overdue": result.hours_overdue,
                "last_business_date": _text(result.last_business_date),
                "received_at_utc": _text(result.received_at),
            }
        ),
        threshold=json.dumps(
            {
                "due_at_utc": _text(result.due_at),
                "due_at_local": _text(result.due_at_local),
                "feed_cutoff": f"{result.feed_cutoff:%H:%M}",
                "timezone": result.timezone,
                "cadence": result.cadence,
                "grace_hours": result.grace.total_seconds() / 3600,
            }
        ),
        examples="; ".join(
            f"{due.business_date} " + ("not delivered" if due.hours_late is None else f"{due.hours_late:.1f} h late")
            for due in misses
        ),
    )


def _text(value: date | datetime | None) -> str:
    if value is None:
        return "none"
    return value.isoformat(timespec="minutes") if isinstance(value, datetime) else value.isoformat()
