"""Feed ingestion assets: supplier master data and partner deliveries into the `raw` schema."""

import dagster as dg

from assets.feeds.contracts import FEED_LEDGER_TABLE, MASTER_DATA_FILES, RAW_FEED_TABLES, SUPPLIER_FOLDER
from assets.feeds.loader import ingest_landing, load_master_data
from assets.feeds.partner_config import load_partner_configs
from assets.metadata import markdown_preview
from orchestration.partitions import NIGHTLY_PARTITIONS
from orchestration.resources import FeedFolders, Warehouse

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
    "superseded), with the reason.",
    "raw.feed_rejects": "Rows the parsers could not use, with file, line and reason.",
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
    partitions_def=NIGHTLY_PARTITIONS,
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


@dg.multi_asset(
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
def partner_feeds(context: dg.AssetExecutionContext, warehouse: Warehouse, feed_folders: FeedFolders):
    """Parse every new partner delivery into the raw tables; bad files are quarantined, the rest keeps flowing."""
    configs = load_partner_configs(feed_folders.partner_configs())
    with warehouse.connect() as conn:
        report = ingest_landing(
            conn,
            feed_folders.landing(),
            configs,
            quarantine_dir=feed_folders.quarantine(),
            on_file=lambda path: context.log.debug(f"ingesting {path}"),
        )
        row_counts = {table: conn.execute(f"select count(*) from {table}").fetchone()[0] for table in FEED_DESCRIPTIONS}
        ledger = conn.execute(
            f"""select partner_id, status, count(*) as files, sum(rows_parsed) as rows_parsed,
                       sum(rows_rejected) as rows_rejected
                from {FEED_LEDGER_TABLE} group by all order by all"""
        ).df()
        problems = conn.execute(
            f"""select partner_id, path, status, reason from {FEED_LEDGER_TABLE}
                where status <> 'loaded' order by received_at desc limit 20"""
        ).df()
    for outcome in report.outcomes:
        if outcome.status == "quarantined":
            context.log.warning(f"quarantined {outcome.path}: {outcome.reason}")
    for table in FEED_DESCRIPTIONS:
        metadata: dict = {"dagster/row_count": row_counts[table]}
        if table == FEED_LEDGER_TABLE:
            metadata["new_files_by_status"] = dict(report.counts)
            metadata["ledger"] = dg.MetadataValue.md(markdown_preview(ledger))
            metadata["not_loaded"] = dg.MetadataValue.md(markdown_preview(problems))
        yield dg.MaterializeResult(asset_key=raw_key(table), metadata=metadata)


RAW_FEED_KEYS = [raw_key(table) for table in RAW_FEED_TABLES.values()]
