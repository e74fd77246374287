"""Supplier master data (partners, locations, products, items, agreements, shipments) into the `raw` schema."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from assets.feeds.contracts import DATED_MASTER_FILES, MASTER_DATA_FILES, OPTIONAL_MASTER_COLUMNS
from assets.feeds.errors import MasterDataError
from assets.feeds.loading.raw_schema import ensure_raw_schema
from assets.feeds.loading.writer import column_types, fetch_all, insert_frame, rollback

# Master data the plan cannot be made without; shipments only sharpen in-transit and reconciliation.
REQUIRED_MASTER_FILES = (
    "partners.csv",
    "partner_locations.csv",
    "products.csv",
    "partner_items.csv",
    "replenishment_agreements.csv",
)


def load_master_data(conn: duckdb.DuckDBPyConnection, supplier_dir: Path) -> dict[str, int]:
    """Replace the raw master data tables with the supplier's CSV files; returns rows loaded per table.

    Every file of ``MASTER_DATA_FILES`` present in ``supplier_dir`` replaces its table, all in one
    transaction, so the tables never mix two versions. Blank cells, and the optional columns a file leaves out
    (``OPTIONAL_MASTER_COLUMNS``), load as null. Missing required files,
    missing columns, null keys and values that do not fit the column type raise MasterDataError naming the
    folder or file (and line); ``shipments.csv`` is optional and its table is left as is when absent. The files of
    ``DATED_MASTER_FILES`` may come in dated parts (``shipments_<day>.csv``) whose rows are added to the file's.
    """
    supplier_dir = Path(supplier_dir)
    ensure_raw_schema(conn)
    if not supplier_dir.is_dir():
        raise MasterDataError(
            f"{supplier_dir}: supplier master data folder does not exist (expected {', '.join(REQUIRED_MASTER_FILES)})"
        )
    missing = [name for name in REQUIRED_MASTER_FILES if not (supplier_dir / name).is_file()]
    if missing:
        raise MasterDataError(f"{supplier_dir}: missing required master data file(s): {', '.join(missing)}")

    frames: dict[str, tuple[Path, pd.DataFrame]] = {}
    for name, table in MASTER_DATA_FILES.items():
        path = supplier_dir / name
        parts = [path] if path.is_file() else []
        if name in DATED_MASTER_FILES:
            parts += sorted(part for part in supplier_dir.glob(f"{Path(name).stem}_*.csv") if part.is_file())
        if parts:
            frame = pd.concat([_read_master_file(conn, part, table) for part in parts], ignore_index=True)
            frames[table] = (parts[0], frame)

    counts: dict[str, int] = {}
    fetch_all(conn, "begin transaction")
    try:
        for table, (path, frame) in frames.items():
            fetch_all(conn, f"delete from {table}")
            try:
                insert_frame(conn, table, frame, list(column_types(conn, table)))
            except duckdb.Error as exc:
                raise MasterDataError(f"{path}: {exc}") from exc
            counts[table] = len(frame)
        fetch_all(conn, "commit")
    except BaseException:
        rollback(conn)
        raise
    return counts


def _read_master_file(conn: duckdb.DuckDBPyConnection, path: Path, table: str) -> pd.DataFrame:
    """The file as text columns named like the table, validated against the table's types and not-nulls."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise MasterDataError(f"{path}: cannot read as UTF-8 CSV: {exc}") from exc
    frame.columns = [str(column).strip() for column in frame.columns]
    types = column_types(conn, table)
    for column in OPTIONAL_MASTER_COLUMNS.get(table, ()):
        if column not in frame.columns:
            frame[column] = ""
    missing = [column for column in types if column not in frame.columns]
    if missing:
        raise MasterDataError(
            f"{path}: line 1: missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}"
        )
    frame = frame[list(types)].apply(lambda column: column.str.strip())
    frame = frame.astype(object).where(frame != "", None)
    _check_master_values(conn, path, table, frame, types)
    return frame


def _check_master_values(
    conn: duckdb.DuckDBPyConnection, path: Path, table: str, frame: pd.DataFrame, types: dict[str, str]
) -> None:
    schema, name = table.split(".")
    not_null = {
        column
        for (column,) in fetch_all(
            conn,
            """select column_name from information_schema.columns
               where table_schema = ? and table_name = ? and is_nullable = 'NO'""",
            [schema, name],
        )
    }
    checked = frame.copy()
    checked.insert(0, "_line", range(2, len(frame) + 2))
    view = "_cmi_master_check"
    conn.register(view, checked)
    try:
        for column, data_type in types.items():
            if column in not_null:
                ((line,),) = fetch_all(conn, f'select min(_line) from {view} where "{column}" is null')
                if line is not None:
                    raise MasterDataError(f"{path}: line {line}: {column} is required")
            if data_type == "VARCHAR":
                continue
            bad = fetch_all(
                conn,
                f"""select _line, "{column}" from {view}
                    where "{column}" is not null and try_cast("{column}" as {data_type}) is null
                    order by _line limit 1""",
            )
            if bad:
                line, value = bad[0]
                raise MasterDataError(f"{path}: line {line}: {column} '{value}' is not a valid {data_type}")
    finally:
        conn.unregister(view)
