"""The supplier's own files under ``_supplier``: master data, replenishment agreements, shipments and stock.

Written once per run from all partners' simulated worlds, with the headers of the raw tables they load into.
"""

from __future__ import annotations

import io
import os
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from assets.feeds.contracts import MASTER_DATA_FILES, OPTIONAL_MASTER_COLUMNS
from assets.feeds.demo.simulation import PartnerData
from assets.feeds.demo.world import Product
from assets.feeds.loading.raw_schema import RAW_TABLE_DDL
from assets.feeds.partner_config import SEGMENT_FORMATS

# Our warehouse normally holds six weeks of what partners draw; the two most-drawn products are short, as fast
# movers are when a production run slips, so the plan must share them out.
SUPPLIER_COVER_WEEKS = 6.0
SHORT_PRODUCTS = 2
SHORT_COVER_WEEKS = 0.02
SHIPMENT_BLOCK_ROWS = 500_000


def _supplier_stock(shipments: pd.DataFrame, products: list[Product], end: date) -> pd.DataFrame:
    """Units we hold per product on the last business date, from what partners drew in the last four weeks."""
    shipped = pd.to_datetime(shipments["ship_date"])
    recent = shipments[(shipped > pd.Timestamp(end) - pd.Timedelta(days=28)) & (shipped <= pd.Timestamp(end))]
    weekly = recent["qty"].astype(float).groupby(recent["product_id"]).sum() / 4.0
    weekly = weekly.reindex([p.product_id for p in products], fill_value=0.0)
    short = set(weekly.sort_values(ascending=False, kind="stable").index[:SHORT_PRODUCTS])
    cover = [SHORT_COVER_WEEKS if product in short else SUPPLIER_COVER_WEEKS for product in weekly.index]
    return pd.DataFrame(
        {
            "product_id": weekly.index,
            "as_of_date": end.isoformat(),
            "available_qty": [str(int(round(units * weeks))) for units, weeks in zip(weekly, cover, strict=True)],
        }
    )


def write_supplier_files(
    folder: Path, partners: list[PartnerData], products: list[Product], end: date, anchor: date | None = None
) -> int:
    """Write master data, agreements, shipments and stock; returns the shipment count.

    The files as of ``anchor`` (the landing's first end, default ``end``) are delivered just after it; each later
    day up to ``end`` adds ``shipments_<day>.csv`` (what shipped that day) and ``supplier_stock_<day>.csv``,
    delivered just after that day, so extending the landing never rewrites a file.
    """
    anchor = anchor or end
    folder.mkdir(parents=True, exist_ok=True)
    partners_frame = pd.DataFrame(
        {
            "partner_id": [p.config.partner_id for p in partners],
            "partner_name": [p.config.name for p in partners],
            "country": [p.config.country for p in partners],
            "timezone": [p.config.timezone for p in partners],
            "currency": [p.config.currency for p in partners],
            "feed_cutoff_local": [p.config.feed_cutoff for p in partners],
        }
    )
    products_frame = pd.DataFrame(
        {
            "product_id": [p.product_id for p in products],
            "gtin": [p.gtin for p in products],
            "description": [p.description for p in products],
            "category": [p.category for p in products],
            "case_pack": [p.case_pack for p in products],
            "moq": [p.moq for p in products],
            "pallet_qty": [p.pallet_qty for p in products],
            "unit_cost": [f"{p.unit_cost:.2f}" for p in products],
            "lifecycle": [p.lifecycle for p in products],
        }
    )
    agreements = pd.concat([p.agreements for p in partners], ignore_index=True)
    for column in ("holding_cost_rate", "shipment_cost", "stockout_penalty_rate"):
        agreements[column] = agreements[column].map(lambda value: "" if pd.isna(value) else f"{value:g}")
    for column in ("moq", "case_pack", "review_period_days"):
        agreements[column] = agreements[column].map(lambda value: "" if pd.isna(value) else str(int(value)))
    for column in (
        "lead_time_days",
        "lead_time_std_days",
        "min_cover_days",
        "max_cover_days",
        "service_level",
    ):
        agreements[column] = agreements[column].map(lambda value: f"{value:g}")
    shipments = pd.concat([p.shipments for p in partners], ignore_index=True)
    shipments = shipments.sort_values(
        ["ship_date", "partner_id", "location_id", "product_id"], kind="stable"
    ).reset_index(drop=True)
    # Kept typed (and numbered by position): a supplier's shipment history runs to millions of rows at supplier
    # sizes, so its text is made a block of rows at a time as the files are written (see ``_shipment_text``).
    ship_dates = shipments["ship_date"].to_numpy()

    frames = {
        "supplier_stock.csv": _supplier_stock(shipments, products, anchor),
        "partners.csv": partners_frame,
        "partner_locations.csv": pd.concat([p.locations for p in partners], ignore_index=True),
        "products.csv": products_frame,
        "partner_items.csv": pd.concat([_cross_references(p, products) for p in partners], ignore_index=True),
        "replenishment_agreements.csv": agreements,
        "shipments.csv": shipments[ship_dates <= np.datetime64(anchor)],
    }
    for name, frame in frames.items():
        _write_master_file(folder / name, frame, MASTER_DATA_FILES[name], anchor)
    day = anchor + timedelta(days=1)
    while day <= end:
        token = f"{day:%Y%m%d}"
        shipped = shipments[ship_dates == np.datetime64(day)]
        _write_master_file(folder / f"shipments_{token}.csv", shipped, MASTER_DATA_FILES["shipments.csv"], day)
        stock = _supplier_stock(shipments, products, day)
        _write_master_file(folder / f"supplier_stock_{token}.csv", stock, MASTER_DATA_FILES["supplier_stock.csv"], day)
        day += timedelta(days=1)
    return len(shipments)


def _write_master_file(path: Path, frame: pd.DataFrame, table: str, day: date) -> None:
    """One supplier file with its raw table's columns, delivered just after ``day``; an optional column the demo
    does not give (a monthly forecast bucket) is left out, as a supplier's file may leave it out. Shipments are
    written ``SHIPMENT_BLOCK_ROWS`` at a time, each block's text made as it is written."""
    optional = OPTIONAL_MASTER_COLUMNS.get(table, ())
    shipments = table == MASTER_DATA_FILES["shipments.csv"]
    step = SHIPMENT_BLOCK_ROWS if shipments else max(len(frame), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        for first in range(0, max(len(frame), 1), step):
            block = _shipment_text(frame.iloc[first : first + step]) if shipments else frame
            columns = [column for column in _table_columns(table) if column in block.columns or column not in optional]
            buffer = io.StringIO()
            block[columns].to_csv(buffer, index=False, lineterminator="\n", header=first == 0)
            file.write(buffer.getvalue().encode("utf-8"))
    delivered = datetime.combine(day + timedelta(days=1), time(0, 30), tzinfo=UTC).timestamp()
    os.utime(path, (delivered, delivered))


def _shipment_text(shipments: pd.DataFrame) -> pd.DataFrame:
    """Shipment rows as the file has them: numbered by their place in the whole history, dates and whole units."""
    rows = shipments.assign(
        ship_date=shipments["ship_date"].dt.strftime("%Y-%m-%d"),
        expected_receipt_date=shipments["expected_receipt_date"].dt.strftime("%Y-%m-%d"),
        qty=shipments["qty"].astype(int).astype(str),
    )
    rows.insert(0, "shipment_id", [f"SHP-{index + 1:07d}" for index in rows.index])
    return rows


def _cross_references(partner: PartnerData, products: list[Product]) -> pd.DataFrame:
    """The partner's item refs, plus each product's GTIN-14 where its EDI files are loaded as normalised GTINs."""
    config = partner.config
    normalises = any(spec.format in SEGMENT_FORMATS and spec.gtin_mode == "normalise" for spec in config.files)
    if not normalises or config.demo.get("item_ref", "upc") == "sku":
        return partner.items
    gtins = {product.product_id: product.gtin for product in products}
    extra = partner.items.assign(
        partner_item_ref=[gtins[product_id] for product_id in partner.items["product_id"]], ref_type="gtin"
    )
    return pd.concat([partner.items, extra], ignore_index=True)


def _table_columns(table: str) -> tuple[str, ...]:
    """Column names of a raw table in DDL order: master data files carry exactly these headers."""
    return tuple(definition.split()[0] for definition in RAW_TABLE_DDL[table].split(","))
