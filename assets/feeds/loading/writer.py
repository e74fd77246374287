"""Delivered files into the `raw` tables: one transaction per file, frames inserted with their declared types.

:class:`RawWriter` is what the loader writes through: :meth:`RawWriter.file_transaction` wraps everything one file
writes (its rows of every record type, its rejects, and the ledger row and supersede decisions the loader adds)
so that a failure never leaves half a file behind, and a file re-offered after its ledger row was removed
replaces its earlier rows instead of doubling them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path

import duckdb
import pandas as pd

from assets.feeds.contracts import FEED_REJECTS_TABLE, RAW_FEED_COLUMNS, RAW_FEED_TABLES, REJECT_COLUMNS
from assets.feeds.loading.limits import too_large_to_load
from assets.feeds.parsers.results import ParseResult

# Running out of memory while a file's rows are written: DuckDB's buffer manager, or Python's allocations.
OUT_OF_MEMORY = (duckdb.OutOfMemoryException, MemoryError)
# Rows inserted per statement: a frame is handed to DuckDB in slices, so the insert's own memory does not grow with
# the file (the rows stay in the file's one transaction).
INSERT_SLICE_ROWS = 100_000


# DuckDB on the ingestion connection: one thread (each thread's arena reserves address space of its own) and a
# buffer that spills to the warehouse's temporary folder instead of growing past it (README "Memory bound").
INGEST_DUCKDB_SETTINGS = {"threads": 1, "memory_limit": "256MiB"}


def bound_duckdb_memory(conn: duckdb.DuckDBPyConnection) -> None:
    """:data:`INGEST_DUCKDB_SETTINGS` on the connection's database, for the rest of its life (the ingest step's)."""
    for name, value in INGEST_DUCKDB_SETTINGS.items():
        fetch_all(conn, f"set {name} = '{value}'")


class RawWriter:
    """Writes the files of one ingest run into the raw feed tables and ``raw.feed_rejects``.

    The tables' column types are looked up once, when the writer is made (``types`` by table name), and DuckDB's
    memory on the connection is bounded then (:func:`bound_duckdb_memory`).
    """

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn
        bound_duckdb_memory(conn)
        self.types = table_column_types(conn, [*RAW_FEED_TABLES.values(), FEED_REJECTS_TABLE])

    @contextlib.contextmanager
    def file_transaction(self, file_id: str, record_types: Iterable[str]) -> Iterator[None]:
        """One file's writes, all or nothing; its earlier rows of ``record_types`` and its rejects go first.

        Any exception rolls everything back and propagates.
        """
        fetch_all(self.conn, "begin transaction")
        try:
            for record_type in record_types:
                fetch_all(self.conn, f"delete from {RAW_FEED_TABLES[record_type]} where source_file_id = ?", [file_id])
            fetch_all(self.conn, f"delete from {FEED_REJECTS_TABLE} where source_file_id = ?", [file_id])
            yield
            fetch_all(self.conn, "commit")
        except BaseException:
            rollback(self.conn)
            raise

    def write(self, results: Iterable[ParseResult]) -> None:
        """Rows of each result into its record type's table, then all their rejects in one insert."""
        rejects = []
        for result in results:
            table = RAW_FEED_TABLES[result.record_type]
            insert_frame(self.conn, table, result.rows, RAW_FEED_COLUMNS[result.record_type], self.types[table])
            if len(result.rejects):
                rejects.append(result.rejects)
        if rejects:
            frame = rejects[0] if len(rejects) == 1 else pd.concat(rejects, ignore_index=True)
            frame = bounded_rejects(frame)
            insert_frame(self.conn, FEED_REJECTS_TABLE, frame, REJECT_COLUMNS, self.types[FEED_REJECTS_TABLE])


@contextlib.contextmanager
def refused_out_of_memory(path: Path, size: int, file_format: str, rows: int | None = None) -> Iterator[None]:
    """Running out of memory while a file is written (its transaction rolled back) refuses that file, not the run:
    raises :func:`~assets.feeds.loading.limits.too_large_to_load`, which the loader quarantines the file with."""
    try:
        yield
    except OUT_OF_MEMORY as exc:
        raise too_large_to_load(path, size, file_format, rows, exc) from exc


# A rejected line is kept for the partner to see, not whole: a hostile cell may be hundreds of megabytes.
MAX_REJECT_TEXT = 4096


def bounded_rejects(frame: pd.DataFrame) -> pd.DataFrame:
    """Rejects with ``raw_record`` and ``reason`` cut to :data:`MAX_REJECT_TEXT` characters (marked with "…")."""
    cut = {}
    for column in ("raw_record", "reason"):
        if column in frame.columns:
            text = frame[column].astype(object)
            long = text.map(lambda value: isinstance(value, str) and len(value) > MAX_REJECT_TEXT)
            if long.any():
                cut[column] = text.where(~long, text[long].map(lambda value: value[: MAX_REJECT_TEXT - 1] + "…"))
    return frame.assign(**cut) if cut else frame


def rollback(conn: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction, if the connection still can."""
    # The error being raised matters more than one from a connection that is already gone.
    with contextlib.suppress(duckdb.Error):
        fetch_all(conn, "rollback")


def fetch_all(conn: duckdb.DuckDBPyConnection, sql: str, parameters: list | None = None) -> list[tuple]:
    """Execute and fetch to the end: DuckDB refuses some later calls (unregister) while a result is open."""
    return conn.execute(sql, parameters).fetchall()


def column_types(conn: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    """Declared type of every column of ``schema.table``, in table order."""
    return table_column_types(conn, [table])[table]


def table_column_types(conn: duckdb.DuckDBPyConnection, tables: Collection[str]) -> dict[str, dict[str, str]]:
    """:func:`column_types` of several tables, from one catalogue query."""
    rows = fetch_all(
        conn,
        """select schema_name || '.' || table_name, column_name, data_type from duckdb_columns()
           where database_name = current_database() and schema_name || '.' || table_name in (select unnest($tables))
           order by schema_name, table_name, column_index""",
        {"tables": list(tables)},
    )
    types: dict[str, dict[str, str]] = {table: {} for table in tables}
    for table, column, data_type in rows:
        types[table][column] = data_type
    return types


def insert_frame(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame,
    columns: tuple[str, ...] | list[str],
    types: dict[str, str] | None = None,
) -> None:
    """Append ``frame[columns]`` to ``table``, casting each column to its DDL type, :data:`INSERT_SLICE_ROWS` rows
    per set-based insert (in the caller's transaction, so a file's rows still land all or none).

    ``types`` (from :func:`column_types`) saves the catalogue lookup when many files go to the same table.
    """
    if len(frame) == 0:
        return
    types = types or column_types(conn, table)
    view = "_cmi_insert_frame"
    selected = ", ".join(f'cast("{column}" as {types[column]})' for column in columns)
    sql = f"insert into {table} ({', '.join(columns)}) select {selected} from {view}"
    for start in range(0, len(frame), INSERT_SLICE_ROWS):
        conn.register(view, frame.iloc[start : start + INSERT_SLICE_ROWS])
        try:
            fetch_all(conn, sql)
        except BaseException:
            # A failed insert aborts the transaction and DuckDB refuses even the unregister until the rollback: the
            # insert's error (out of memory, say) is the one to raise.
            with contextlib.suppress(duckdb.Error):
                conn.unregister(view)
            raise
        conn.unregister(view)
