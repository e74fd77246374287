"""Feed ingestion assets: supplier master data and partner deliveries into the `raw` schema.

The partner dimension is run configuration, not a Dagster partition. Every asset of one job must share one
partitions definition, and the nightly job runs the whole graph on the daily business-date partitions; a
(date x partner) definition on the feed assets would split them off the nightly job, and one nightly run could
no longer load every partner. So each run keeps the business date as its partition and ``PartnerFeedsConfig``
names the partners it covers: the landing sensor starts one run per partner, the nightly job covers all.
"""

from collections.abc import Sequence
from pathlib import Path

import dagster as dg
from pydantic import Field

from assets.feeds.contracts import FEED_LEDGER_TABLE, MASTER_DATA_FILES, RAW_FEED_TABLES, SUPPLIER_FOLDER
from assets.feeds.errors import PartnerConfigError
from assets.feeds.loading.archive import FeedArchive, keep_folder
from assets.feeds.loading.landing_walk import partner_folders as walk_partner_folders
from assets.feeds.loading.loader import ingest_landing, load_master_data
from assets.feeds.partner_config import PartnerConfig, load_partner_configs
from assets.renderers.metadata import markdown_preview, partner_delivery_lines
from orchestration.runtime.partitions import NIGHTLY_PARTITIONS
from orchestration.runtime.resources import Artefacts, FeedFolders, Warehouse

GROUP = "feeds"
OWNER = "team:data-engineering"


def raw_key(table: str) -> dg.AssetKey:
    """`raw.sales` -> AssetKey(["raw", "sales"]): asset keys mirror warehouse schema and table."""
    schema, name = table.split(".")
    return dg.AssetKey([schema, name])


MASTER_DATA_DESCRIPTIONS = {
    "raw.partners": "Partners we replenish, with country, time zone and the agreed feed cut-off.",
    "raw.partner_locations": "Partner stores and warehouses (with GLN where known).",
    "raw.products": "Our product master: GTIN-14, case pack, MOQ, pallet quantity, lifecycle.",
    "raw.partner_items": "Partner item cross-reference: each partner's SKU / UPC / EAN to our product_id.",
    "raw.replenishment_agreements": "Replenishment terms per partner (default) and product (override).",
    "raw.shipments": "Our own shipments to partner locations, with expected receipt dates.",
    "raw.supplier_stock": "Our own stock available to ship per product and date: what allocation shares out.",
}

FEED_DESCRIPTIONS = {
    "raw.stock_snapshots": "Stock on hand, on order and in transit as each partner reported it, one row per file line.",
    "raw.sales": "Units sold and returned per partner location, product and period, as reported.",
    "raw.partner_forecasts": "The partners' own demand forecasts, as sent.",
    FEED_LEDGER_TABLE: "Feed ledger: one row per delivered file and its status (loaded, quarantined, duplicate, "
    "superseded, no_usable_rows), with the reason and, for EDI files, where every quantity went.",
    "raw.feed_rejects": "Rows the parsers could not use, with file, line and reason.",
    "raw.edi_interchanges": "Each interchange of a delivered X12 or EDIFACT file: loaded, partly loaded or refused, "
    "with the first real defect and its segment, and where its quantities went.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            raw_key(table),
            description=MASTER_DATA_DESCRIPTIONS[table],
            kinds={"duckdb"},
            group_name=GROUP,
            owners=[OWNER],
        )
        for table in MASTER_DATA_FILES.values()
    ],
    # Master data is not a night's data: each load replaces the tables with the supplier's current files, so it is
    # one unpartitioned asset (a partition per date would show a thousand "missing" nights for six tables).
)
def supplier_master_data(warehouse: Warehouse, feed_folders: FeedFolders):
    """Load the supplier's master data and shipment history from the `_supplier` landing folder."""
    supplier_dir = feed_folders.landing() / SUPPLIER_FOLDER
    with warehouse.connect() as conn:
        counts = load_master_data(conn, supplier_dir)
    for table in MASTER_DATA_FILES.values():
        yield dg.MaterializeResult(
            asset_key=raw_key(table),
            metadata={"dagster/row_count": counts.get(table, 0), "source": str(supplier_dir)},
        )


# The landing sensor's runs each select one of these, so a partner's delivery never reloads master data.
SUPPLIER_MASTER_DATA_KEYS = [raw_key(table) for table in MASTER_DATA_FILES.values()]
PARTNER_FEED_KEYS = [raw_key(table) for table in FEED_DESCRIPTIONS]

# The op that run configuration addresses: `ops: {partner_feeds: {config: {partners: [...]}}}`.
PARTNER_FEEDS_OP = "partner_feeds"


class PartnerFeedsConfig(dg.Config):
    """Which partners' landing folders one run ingests."""

    partners: list[str] = Field(
        default_factory=list,
        description="Partner ids (landing folder names) to ingest; empty: every partner folder, as the nightly "
        "job does. The landing sensor starts one run per partner, so one partner's failure stays in its own run.",
    )


def partner_configs_for(config_dir: Path, partners: Sequence[str]) -> tuple[dict[str, PartnerConfig], dict[str, str]]:
    """Every partner's feed config (or only the named partners'), and the error of each YAML that does not load.

    A broken YAML fails only its own partner: the errors come back keyed by the file's stem (the partner id it
    is for), and that partner's files are quarantined with the error while the others load. A named partner
    without a YAML file gets no entry, so its files are quarantined with that reason.
    """
    errors: dict[str, str] = {}

    def broken(path: Path, error: PartnerConfigError) -> None:
        errors[path.stem if path.suffix in (".yaml", ".yml") else str(path)] = str(error)

    return load_partner_configs(config_dir, partners, on_error=broken), errors


def partner_folders(landing: Path, partners: Sequence[str]) -> list[str]:
    """The partner folders a run covers: the named ones that exist, or every partner folder when none is named."""
    if not Path(landing).is_dir():
        return []
    return [name for name, _, _ in walk_partner_folders(Path(landing), partners or None)]


@dg.multi_asset(
    name=PARTNER_FEEDS_OP,
    specs=[
        dg.AssetSpec(
            raw_key(table),
            description=FEED_DESCRIPTIONS[table],
            kinds={"duckdb"},
            group_name=GROUP,
            owners=[OWNER],
        )
        for table in FEED_DESCRIPTIONS
    ],
    partitions_def=NIGHTLY_PARTITIONS,
)
def partner_feeds(
    context: dg.AssetExecutionContext,
    config: PartnerFeedsConfig,
    warehouse: Warehouse,
    feed_folders: FeedFolders,
    artefacts: Artefacts,
):
    """Parse every new partner delivery into the raw tables; bad files are quarantined, the rest keeps flowing."""
    landing = feed_folders.landing()
    covered = partner_folders(landing, config.partners)
    scope = "selected partners" if config.partners else "all partners"
    context.log.info(f"ingesting {scope}: {', '.join(covered) or 'no partner folder'}")
    configs, config_errors = partner_configs_for(feed_folders.partner_configs(), config.partners)
    if not config.partners:  # the nightly run keeps our own master data files in the archive too
        keep_folder(FeedArchive(artefacts.archive()), landing / SUPPLIER_FOLDER, landing)
    for partner_id, error in sorted(config_errors.items()):
        context.log.error(f"partner config of {partner_id} does not load, its files are quarantined: {error}")
    with warehouse.connect() as conn:
        report = ingest_landing(
            conn,
            landing,
            configs,
            quarantine_dir=artefacts.quarantine(),
            outbox_dir=artefacts.outbox(),
            on_file=lambda path: context.log.debug(f"ingesting {path}"),
            partners=config.partners or None,
            config_errors=config_errors,
            archive_dir=artefacts.archive(),
        )
        row_counts = {table: conn.execute(f"select count(*) from {table}").fetchone()[0] for table in FEED_DESCRIPTIONS}
        # A partner run summarises its own partners' ledger rows; the nightly run every partner's.
        in_scope = {"all": not config.partners, "partners": covered}
        ledger = conn.execute(
            f"""select partner_id, status, count(*) as files, sum(rows_parsed) as rows_parsed,
                       sum(rows_rejected) as rows_rejected
                from {FEED_LEDGER_TABLE} where $all or list_contains($partners, partner_id)
                group by all order by all""",
            in_scope,
        ).df()
        problems = conn.execute(
            f"""select partner_id, path, status, reason from {FEED_LEDGER_TABLE}
                where status <> 'loaded' and ($all or list_contains($partners, partner_id))
                order by received_at desc limit 20""",
            in_scope,
        ).df()
        newest_problems = conn.execute(
            f"""select partner_id, path, status, reason from {FEED_LEDGER_TABLE}
                where status <> 'loaded' and ($all or list_contains($partners, partner_id))
                qualify row_number() over (partition by partner_id order by received_at desc, path) = 1""",
            in_scope,
        ).df()
    for outcome in report.outcomes:
        if outcome.status == "quarantined":
            context.log.warning(f"quarantined {outcome.path}: {outcome.reason}")
    for partner_id, waiting in sorted(report.deferred.items()):
        context.log.warning(f"{partner_id} sent more files than one run takes: {waiting} wait for the next run")
    for table in FEED_DESCRIPTIONS:
        metadata: dict = {
            "dagster/row_count": row_counts[table],
            "partners": dg.MetadataValue.json(covered),
            "partner_scope": scope,
        }
        if table == FEED_LEDGER_TABLE:
            metadata["new_files_by_status"] = dict(report.counts)
            metadata["broken_partner_configs"] = dg.MetadataValue.json(config_errors)
            metadata["ledger"] = dg.MetadataValue.md(markdown_preview(ledger))
            metadata["not_loaded"] = dg.MetadataValue.md(markdown_preview(problems))
            for key, line in partner_delivery_lines(ledger, newest_problems).items():
                metadata[key] = dg.MetadataValue.text(line)
        yield dg.MaterializeResult(asset_key=raw_key(table), metadata=metadata)


RAW_FEED_KEYS = [raw_key(table) for table in RAW_FEED_TABLES.values()]
