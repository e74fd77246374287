"""Per-partner plan files: what we will ship to each of a partner's locations, as CSV and JSON.

Each partner gets ``<out_dir>/<partner_id>/replenishment_plan_<plan_date>.csv`` and ``.json`` holding only its
own rows, ordered by location and product, with the columns of ``EXPORT_COLUMNS`` in that order. The content is
a pure function of the plan rows: dates are ISO ``YYYY-MM-DD``, whole numbers are written without a decimal
point, other numbers rounded to ``DECIMALS`` places, and missing or infinite values (a date that does not apply,
the cover of a product without demand) are empty in the CSV and ``null`` in the JSON. A rerun therefore writes
identical bytes, and files are replaced atomically so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from datetime import date
from pathlib import Path

import pandas as pd

EXPORT_COLUMNS = [
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
DATE_COLUMNS = ("plan_date", "ship_date", "expected_receipt_date", "projected_stockout_date")
TEXT_COLUMNS = ("partner_id", "location_id", "product_id", "reason_code")
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


def _csv_text(records: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for record in records:
        writer.writerow(["" if value is None else value for value in record.values()])
    return buffer.getvalue()


def _json_text(partner_id: str, plan_date: date, records: list[dict]) -> str:
    document = {
        "partner_id": partner_id,
        "plan_date": plan_date.isoformat(),
        "columns": EXPORT_COLUMNS,
        "rows": records,
    }
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _write_atomically(path: Path, text: str) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        # mkstemp makes the file private; exports are picked up by other accounts (SFTP, file shares).
        os.chmod(temporary, EXPORT_FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_partner_exports(plan: pd.DataFrame, out_dir: Path | str, plan_date: date) -> list[Path]:
    """Write one CSV and one JSON file per partner in ``plan`` under ``out_dir/<partner_id>/``.

    ``plan`` is a plan from ``plan_replenishment`` for ``plan_date`` (every row must carry that plan date).
    Returns the written paths, partner by partner, CSV before JSON. A partner without rows gets no files.
    """
    missing = [column for column in EXPORT_COLUMNS if column not in plan.columns]
    if missing:
        raise ValueError(f"plan is missing columns: {', '.join(missing)}")
    plan_date = pd.Timestamp(plan_date).date()
    plan_dates = set(pd.to_datetime(plan["plan_date"]).dt.date)
    if plan_dates - {plan_date}:
        raise ValueError(f"plan has rows for {sorted(plan_dates - {plan_date})}, not only for {plan_date}")

    out_dir = Path(out_dir)
    written = []
    rows = plan.assign(partner_id=plan["partner_id"].astype(str))
    for partner_id in sorted(rows["partner_id"].unique()):
        folder = out_dir / _safe_folder_name(partner_id)
        folder.mkdir(parents=True, exist_ok=True)
        own = rows[rows["partner_id"] == partner_id]
        own = own.assign(location_id=own["location_id"].astype(str), product_id=own["product_id"].astype(str))
        records = _records(own.sort_values(["location_id", "product_id"], kind="stable"))
        stem = export_file_stem(plan_date)
        for path, text in (
            (folder / f"{stem}.csv", _csv_text(records)),
            (folder / f"{stem}.json", _json_text(partner_id, plan_date, records)),
        ):
            _write_atomically(path, text)
            written.append(path)
    return written
