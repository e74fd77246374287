"""The landing sensor: new partner files start ingestion runs without waiting for the night, one run per partner.

A run per landing folder keeps partners apart: one partner's unreadable file or crashing run fails only that
partner's run, and the others' deliveries still reach `raw`. The business date stays the run's partition; the
partner is run configuration of the `partner_feeds` asset (see assets/ingest.py for why it is not a partition).
"""

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from assets.feeds.contracts import SUPPLIER_FOLDER
from assets.feeds.loading.landing_walk import LandingEntry, partner_folders, walk_partner
from assets.feeds.loading.limits import DEFAULT_LIMITS, FileLimits
from assets.feeds.partner_config import load_partner_configs
from assets.ingest import PARTNER_FEED_KEYS, PARTNER_FEEDS_OP, SUPPLIER_MASTER_DATA_KEYS
from orchestration.runtime import settings

INGEST_JOB_NAME = "ingest_feeds"

# Files still being written are left for the next tick: a delivery is picked up once it has been quiet this long.
QUIET_SECONDS = 30

# Run tags: the landing folder a run ingests (a partner id, or `_supplier` for master data) and what started the run.
PARTNER_TAG = "cmi/partner"
TRIGGER_TAG = "cmi/trigger"
LANDING_TRIGGER = "landing"


def landing_fingerprints(
    landing: Path,
    now: float,
    quiet_seconds: float = QUIET_SECONDS,
    limits: Mapping[str, FileLimits] | None = None,
) -> dict[str, str]:
    """`partner/file` -> `size:mtime` for every settled delivery under the landing folder (partners and `_supplier`).

    The landing is walked as ingestion walks it (``landing_walk``), each partner folder with that partner's
    ``limits`` (:func:`partner_limits`; the defaults for a partner not in it): no symbolic link is followed,
    nothing outside a partner folder is looked at. What ingestion refuses (a link, a pipe, a folder nested deeper
    than the partner's ``max_folder_depth``, a partner folder that is a link) is `refused`, so it starts the run
    that records it; hidden files are left out, since uploads in progress are named so until they are complete.
    """
    if not landing.is_dir():
        return {}
    found = {}
    for entry in _landing_entries(landing, limits or {}):
        if entry.regular and entry.relative.rsplit("/", 1)[-1].startswith("."):
            continue
        if not entry.regular:
            found[entry.relative] = "refused"
        elif now - entry.mtime >= quiet_seconds:
            found[entry.relative] = f"{entry.size}:{int(entry.mtime)}"
    return dict(sorted(found.items()))


def partner_limits(config_dir: Path) -> dict[str, FileLimits]:
    """Each partner's configured limits, by partner id. A partner whose YAML cannot be read is left out, so its
    folder is walked with the default limits, as ingestion walks it, and the other partners keep theirs."""
    configs = load_partner_configs(Path(config_dir), on_error=lambda path, error: None)
    return {partner_id: config.limits for partner_id, config in configs.items()}


def _landing_entries(landing: Path, limits: Mapping[str, FileLimits]) -> Iterator[LandingEntry]:
    folders = list(partner_folders(landing))
    supplier = landing / SUPPLIER_FOLDER
    if supplier.is_symlink():
        folders.append((SUPPLIER_FOLDER, supplier, "symbolic link refused: the supplier folder must be a real folder"))
    elif supplier.is_dir():
        folders.append((SUPPLIER_FOLDER, supplier, None))
    for partner_id, folder, refusal in folders:
        if refusal is not None:
            yield LandingEntry(partner_id, partner_id, folder, os.fsencode(partner_id), refusal)
        else:
            yield from walk_partner(landing, partner_id, folder, limits.get(partner_id, DEFAULT_LIMITS))


def new_deliveries(previous: dict[str, str], current: dict[str, str]) -> dict[str, list[str]]:
    """Files that are new or changed since the last tick, grouped by the folder (partner) they landed in."""
    changed = sorted(name for name, print_ in current.items() if previous.get(name) != print_)
    grouped: dict[str, list[str]] = {}
    for name in changed:
        grouped.setdefault(name.split("/", 1)[0], []).append(name)
    return grouped


def folder_run_key(folder: str, current: dict[str, str]) -> str:
    """`<folder>:<digest of every settled file of the folder and its fingerprint>`.

    The key names the folder's state, not the tick: a sensor whose cursor was reset asks again for a state it
    already ingested, and Dagster skips a run key it has seen; a new or re-sent file gives a new key.
    """
    state = {name: print_ for name, print_ in current.items() if name.split("/", 1)[0] == folder}
    digest = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]
    return f"{folder}:{digest}"


def partner_run_config(partner_id: str) -> dict:
    """Run configuration that scopes `partner_feeds` to one partner's landing folder."""
    return {"ops": {PARTNER_FEEDS_OP: {"config": {"partners": [partner_id]}}}}


def ingest_run_requests(previous: dict[str, str], current: dict[str, str], partition_key: str) -> list[dg.RunRequest]:
    """One ingestion run per landing folder with new or changed files, in folder order; partner runs take the
    business date as their partition.

    A partner folder's run loads only that partner's feeds; `_supplier`'s run only the master data, so neither
    reloads (or waits on) what the other delivered.
    """
    requests = []
    for folder in sorted(new_deliveries(previous, current)):
        if folder == SUPPLIER_FOLDER:
            # Master data is unpartitioned: its run names no business date.
            selection, run_config, partition = SUPPLIER_MASTER_DATA_KEYS, {}, None
        else:
            selection, run_config, partition = PARTNER_FEED_KEYS, partner_run_config(folder), partition_key
        requests.append(
            dg.RunRequest(
                run_key=folder_run_key(folder, current),
                partition_key=partition,
                run_config=run_config,
                asset_selection=selection,
                tags={PARTNER_TAG: folder, TRIGGER_TAG: LANDING_TRIGGER},
            )
        )
    return requests


def landing_sensor(ingest_job) -> dg.SensorDefinition:
    @dg.sensor(
        name="partner_landing",
        job=ingest_job,
        minimum_interval_seconds=60,
        description="Starts one ingestion run per partner folder with new files (and one for supplier master "
        "data); the ledger skips what was loaded.",
        default_status=dg.DefaultSensorStatus.STOPPED,
    )
    def _sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        previous = json.loads(context.cursor) if context.cursor else {}
        current = landing_fingerprints(
            settings.landing_dir(),
            datetime.now().timestamp(),
            limits=partner_limits(settings.partner_config_dir()),
        )
        business_date = (datetime.now(ZoneInfo(settings.schedule_timezone())) - timedelta(days=1)).date()
        requests = ingest_run_requests(previous, current, business_date.isoformat())
        cursor = json.dumps(current, sort_keys=True)
        if not requests:
            return dg.SensorResult(skip_reason="no new partner files", cursor=cursor)
        return dg.SensorResult(run_requests=requests, cursor=cursor)

    return _sensor
