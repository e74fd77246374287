"""The landing sensor: new partner files start an ingestion run without waiting for the night."""

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from orchestration import settings

INGEST_JOB_NAME = "ingest_feeds"

# Files still being written are left for the next tick: a delivery is picked up once it has been quiet this long.
QUIET_SECONDS = 30


def landing_fingerprints(landing: Path, now: float, quiet_seconds: float = QUIET_SECONDS) -> dict[str, str]:
    """`partner/file` -> `size:mtime` for every settled file under the landing folder (partners and `_supplier`)."""
    if not landing.is_dir():
        return {}
    found = {}
    for path in sorted(p for p in landing.rglob("*") if p.is_file() and not p.name.startswith(".")):
        stat = path.stat()
        if now - stat.st_mtime >= quiet_seconds:
            found[str(path.relative_to(landing))] = f"{stat.st_size}:{int(stat.st_mtime)}"
    return found


def new_deliveries(previous: dict[str, str], current: dict[str, str]) -> dict[str, list[str]]:
    """Files that are new or changed since the last tick, grouped by the folder (partner) they landed in."""
    changed = sorted(name for name, print_ in current.items() if previous.get(name) != print_)
    grouped: dict[str, list[str]] = {}
    for name in changed:
        grouped.setdefault(name.split("/", 1)[0], []).append(name)
    return grouped


def landing_sensor(ingest_job) -> dg.SensorDefinition:
    @dg.sensor(
        name="partner_landing",
        job=ingest_job,
        minimum_interval_seconds=60,
        description="Starts an ingestion run when partners deliver new files; the ledger skips what was loaded.",
        default_status=dg.DefaultSensorStatus.STOPPED,
    )
    def _sensor(context: dg.SensorEvaluationContext):
        now = datetime.now().timestamp()
        previous = json.loads(context.cursor) if context.cursor else {}
        current = landing_fingerprints(settings.landing_dir(), now)
        deliveries = new_deliveries(previous, current)
        if not deliveries:
            yield dg.SkipReason("no new partner files")
            return
        business_date = (datetime.now(ZoneInfo(settings.schedule_timezone())) - timedelta(days=1)).date()
        run_key = hashlib.sha256(json.dumps(deliveries, sort_keys=True).encode()).hexdigest()[:16]
        yield dg.RunRequest(
            run_key=run_key,
            partition_key=business_date.isoformat(),
            tags={"cmi/trigger": "landing", "cmi/folders": ",".join(sorted(deliveries))[:200]},
        )
        context.update_cursor(json.dumps(current, sort_keys=True))

    return _sensor
