"""Per-partner plan files: what we will ship to each of a partner's locations, as CSV and JSON, in its own terms.

Each partner gets ``<out_dir>/<partner_id>/replenishment_plan_<plan_date>.csv`` and ``.json`` holding only its
own rows, ordered by location and product, with the columns of ``EXPORT_COLUMNS`` in that order: beside our ids
the partner's own item id (the reference type its export config names, from the item cross-reference), the GTIN,
its store id and GLN, units and whole cases, the plan version, the ship date and the location's delivery days (the
plan's cheapest cadence of the agreed days; empty for a plan made before it was chosen), so its ERP can load the file
as is.

The CSV follows the partner's dialect (``ExportSpec`` from its YAML ``export`` block: delimiter, decimal mark,
encoding, date format); the JSON is always UTF-8 with ISO dates and JSON numbers. The content is a pure function of
the inputs: whole numbers are written without a decimal mark, other numbers rounded to ``DECIMALS`` places, and
missing or infinite values (a date that does not apply, the cover of a product without demand, a store without a
GLN) are empty in the CSV and ``null`` in the JSON. A rerun therefore writes identical bytes, and files are
replaced atomically so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path

import pandas as pd

from assets.feeds.partner_config import ITEM_ID_PREFERENCE, ExportSpec

# What the plan must carry; the master-data columns come from the cross-reference and the dimensions.
PLAN_EXPORT_COLUMNS = [
    "plan_date",
    "partner_id",
    "location_id",
    "product_id",
    "ship_date",
    "expected_receipt_date",
    "ship_qty",
    "allocated_qty",
    "reason_code",
    "on_hand",
    "inventory_position",
    "demand_daily_mean",
    "safety_stock",
    "reorder_point",
    "order_up_to",
    "days_of_cover",
    "days_of_cover_after",
    "projected_stockout_date",
    "case_pack",
    "moq",
]
EXPORT_COLUMNS = [
    "plan_date",
    "plan_version",
    "partner_id",
    "location_id",
    "location_gln",
    "location_name",
    "product_id",
    "partner_item_id",
    "gtin",
    "product_description",
    "ship_date",
    "ship_days",
    "expected_receipt_date",
    "ship_qty",
    "ship_cases",
    "allocated_qty",
    "allocated_cases",
    "case_pack",
    "moq",
    "reason_code",
    "on_hand",
    "inventory_position",
    "demand_daily_mean",
    "safety_stock",
    "reorder_point",
    "order_up_to",
    "days_of_cover",
    "days_of_cover_after",
    "projected_stockout_date",
]
DATE_COLUMNS = ("plan_date", "ship_date", "expected_receipt_date", "projected_stockout_date")
TEXT_COLUMNS = (
    "partner_id",
    "location_id",
    "location_gln",
    "location_name",
    "product_id",
    "partner_item_id",
    "gtin",
    "product_description",
    "ship_days",
    "reason_code",
)
DECIMALS = 3
EXPORT_FILE_MODE = 0o644


def export_file_stem(plan_date: date) -> str:
    return f"replenishment_plan_{plan_date.isoformat()}"


def _safe_folder_name(partner_id: str) -> str:
    """The partner id as a folder name; ids that could leave ``out_dir`` are refused, not rewritten."""
    name = str(partner_id)
    if not name or name in (".", "..") or any(character in name for character in "/\\\0"):
        raise ValueError(f"partner_id {partner_id!r} cannot be used as a folder name")
    return name


def _value(column: str, value: object) -> str | int | float | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if column in DATE_COLUMNS:
        return pd.Timestamp(value).date().isoformat()
    if column in TEXT_COLUMNS:
        return str(value)
    number = float(value)
    if math.isinf(number):
        return None
    rounded = round(number, DECIMALS)
    return int(rounded) if rounded.is_integer() else rounded


def _records(rows: pd.DataFrame) -> list[dict[str, str | int | float | None]]:
    return [
        {column: _value(column, value) for column, value in zip(EXPORT_COLUMNS, row, strict=True)}
        for row in rows[EXPORT_COLUMNS].itertuples(index=False, name=None)
    ]


def _csv_cell(column: str, value: str | int | float | None, dialect: ExportSpec) -> str:
    if value is None:
        return ""
    if column in DATE_COLUMNS:
        return date.fromisoformat(value).strftime(dialect.date_format)
    if isinstance(value, float):
        return repr(value).replace(".", dialect.decimal)
    return str(value)


def _csv_text(records: list[dict], dialect: ExportSpec) -> str:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, delimiter=dialect.delimiter, lineterminator="\r\n" if dialect.delimiter == ";" else "\n"
    )
    writer.writerow(EXPORT_COLUMNS)
    for record in records:
        writer.writerow([_csv_cell(column, value, dialect) for column, value in record.items()])
    return buffer.getvalue()


def _json_text(partner_id: str, plan_date: date, version: int | None, records: list[dict]) -> str:
    document = {
        "partner_id": partner_id,
        "plan_date": plan_date.isoformat(),
        "plan_version": version,
        "columns": EXPORT_COLUMNS,
        "rows": records,
    }
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def partner_item_ids(items: pd.DataFrame | None, dialects: Mapping[str, ExportSpec]) -> pd.DataFrame:
    """Per partner and product the partner's own item id: the reference of the type its export config names, else
    the first type of ``ITEM_ID_PREFERENCE`` it has (columns partner_id, product_id, partner_item_id)."""
    columns = ["partner_id", "product_id", "partner_item_id"]
    if items is None or items.empty:
        return pd.DataFrame(columns=columns)

    def rank(row: pd.Series) -> int:
        wanted = dialects.get(row["partner_id"], ExportSpec()).item_id
        kind = str(row["ref_type"]).lower()
        if wanted is not None:
            return 0 if kind == wanted else 1 + len(ITEM_ID_PREFERENCE)
        return ITEM_ID_PREFERENCE.index(kind) + 1 if kind in ITEM_ID_PREFERENCE else 1 + len(ITEM_ID_PREFERENCE)

    ranked = items.assign(rank=items.apply(rank, axis=1)).sort_values(
        ["partner_id", "product_id", "rank", "partner_item_ref"], kind="stable"
    )
    chosen = ranked.drop_duplicates(["partner_id", "product_id"], keep="first")
    return chosen.rename(columns={"partner_item_ref": "partner_item_id"})[columns].reset_index(drop=True)


def _with_master_data(
    plan: pd.DataFrame,
    items: pd.DataFrame,
    locations: pd.DataFrame | None,
    products: pd.DataFrame | None,
) -> pd.DataFrame:
    rows = plan.assign(
        partner_id=plan["partner_id"].astype(str),
        location_id=plan["location_id"].astype(str),
        product_id=plan["product_id"].astype(str),
        plan_version=plan["version"] if "version" in plan.columns else None,
    )
    rows = rows.merge(items, on=["partner_id", "product_id"], how="left")
    location_columns = ["partner_id", "location_id", "gln", "location_name"]
    if locations is not None and not locations.empty:
        found = locations[location_columns].astype({"partner_id": str, "location_id": str})
        found = found.rename(columns={"gln": "location_gln"})
        rows = rows.merge(found.drop_duplicates(["partner_id", "location_id"]), how="left")
    product_columns = ["product_id", "gtin", "product_description"]
    if products is not None and not products.empty:
        found = products[product_columns].astype({"product_id": str}).drop_duplicates("product_id")
        rows = rows.merge(found, how="left")
    for column in ("location_gln", "location_name", "gtin", "product_description", "partner_item_id", "ship_days"):
        if column not in rows.columns:
            rows[column] = None
    case_pack = pd.to_numeric(rows["case_pack"]).where(lambda pack: pack > 0)
    rows["ship_cases"] = pd.to_numeric(rows["ship_qty"]) / case_pack
    rows["allocated_cases"] = pd.to_numeric(rows["allocated_qty"]) / case_pack
    return rows


def _write_atomically(path: Path, text: str, encoding: str = "utf-8") -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding=encoding, newline="") as handle:
            handle.write(text)
        # mkstemp makes the file private; exports are picked up by other accounts (SFTP, file shares).
        os.chmod(temporary, EXPORT_FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_partner_exports(
    plan: pd.DataFrame,
    out_dir: Path | str,
    plan_date: date,
    *,
    items: pd.DataFrame | None = None,
    locations: pd.DataFrame | None = None,
    products: pd.DataFrame | None = None,
    dialects: Mapping[str, ExportSpec] | None = None,
    withdraw: Iterable[str] = (),
) -> list[Path]:
    """Write one CSV and one JSON file per partner in ``plan`` under ``out_dir/<partner_id>/``.

    ``plan`` is a plan from ``plan_replenishment`` for ``plan_date`` (every row must carry that plan date; its
    ``version`` column, when present, becomes ``plan_version``). ``items`` is the partner item cross-reference
    (partner_id, partner_item_ref, product_id, ref_type), ``locations`` the partner locations (partner_id,
    location_id, gln, location_name), ``products`` the products (product_id, gtin, product_description) and
    ``dialects`` each partner's ``ExportSpec`` (the default dialect for a partner without one). Missing master
    data leaves its columns empty. Returns the written paths, partner by partner, CSV before JSON. A partner
    without rows gets no files, and a partner in ``withdraw`` without rows loses the plan date's files an earlier
    run wrote (a partner held on a rerun of the night must not keep a plan its ERP could still load).
    """
    missing = [column for column in PLAN_EXPORT_COLUMNS if column not in plan.columns]
    if missing:
        raise ValueError(f"plan is missing columns: {', '.join(missing)}")
    plan_date = pd.Timestamp(plan_date).date()
    plan_dates = set(pd.to_datetime(plan["plan_date"]).dt.date)
    if plan_dates - {plan_date}:
        raise ValueError(f"plan has rows for {sorted(plan_dates - {plan_date})}, not only for {plan_date}")
    dialects = dict(dialects or {})

    out_dir = Path(out_dir)
    planned = set(plan["partner_id"].astype(str))
    for partner_id in sorted(set(withdraw) - planned):
        for suffix in ("csv", "json"):
            (out_dir / _safe_folder_name(partner_id) / f"{export_file_stem(plan_date)}.{suffix}").unlink(
                missing_ok=True
            )
    written = []
    rows = _with_master_data(plan, partner_item_ids(items, dialects), locations, products)
    for partner_id in sorted(rows["partner_id"].unique()):
        folder = out_dir / _safe_folder_name(partner_id)
        folder.mkdir(parents=True, exist_ok=True)
        own = rows[rows["partner_id"] == partner_id]
        records = _records(own.sort_values(["location_id", "product_id"], kind="stable"))
        versions = own["plan_version"].dropna()
        version = int(versions.max()) if not versions.empty else None
        dialect = dialects.get(partner_id, ExportSpec())
        stem = export_file_stem(plan_date)
        for path, text, encoding in (
            (folder / f"{stem}.csv", _csv_text(records, dialect), dialect.encoding),
            (folder / f"{stem}.json", _json_text(partner_id, plan_date, version, records), "utf-8"),
        ):
            _write_atomically(path, text, encoding)
            written.append(path)
    return written
