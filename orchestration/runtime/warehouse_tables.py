"""Small DuckDB idioms every writer of the warehouse shares: does a table exist, replace one date's rows, and keep
the rows scored with the most actuals.

No Dagster here: the libraries that keep history tables (forecasts, plans, check results) and the wiring use it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date

import duckdb
import pandas as pd


def table_exists(conn: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether `schema.table` exists (as a table or a view) in the connected warehouse."""
    schema, name = table.split(".")
    # fetchall, not fetchone: the result is finished, so the connection can register a frame next.
    return (
        conn.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
        ).fetchall()[0][0]
        > 0
    )


@contextlib.contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction: committed when the block ends, rolled back (and the error raised) when it fails."""
    conn.execute("begin")
    try:
        yield
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise


def replace_date_rows(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    date_column: str,
    business_date: date,
    rows: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    also_where: dict[str, object] | None = None,
) -> int:
    """Replace the rows of one business date (and, optionally, of one key within it) in one transaction.

    A rerun of a night therefore writes the same rows again instead of adding to them, and a crash in between
    leaves the previous rows in place. Columns are matched by name; `columns` picks the frame's columns to write
    (default: all of them).
    """
    return replace_date_rows_in_parts(
        conn, table, date_column, business_date, [rows], columns=columns, also_where=also_where
    )


def replace_date_rows_in_parts(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    date_column: str,
    business_date: date,
    parts: Iterable[pd.DataFrame],
    *,
    columns: Sequence[str] | None = None,
    also_where: dict[str, object] | None = None,
) -> int:
    """``replace_date_rows`` for rows made one part at a time: each part is inserted as soon as it is made, so only
    one part is in memory, and all of them in the one transaction (a failure in any part keeps the previous rows).
    ``parts`` may read the warehouse through ``conn`` while the transaction is open. Returns the rows written."""
    conditions = [f"{date_column} = ?"] + [f'"{column}" = ?' for column in (also_where or {})]
    parameters = [business_date, *(also_where or {}).values()]
    selected = ", ".join(columns) if columns is not None else "*"
    written = 0
    with transaction(conn):
        conn.execute(f"delete from {table} where {' and '.join(conditions)}", parameters)
        for rows in parts:
            if rows.empty:
                continue
            with registered(conn, "replacement_rows", rows):
                conn.execute(f"insert into {table} by name select {selected} from replacement_rows")
            written += len(rows)
    return written


def key_blocks(
    conn: duckdb.DuckDBPyConnection, counts_sql: str, parameters: dict[str, object], *, block_rows: int
) -> Iterator[pd.DataFrame]:
    """Consecutive blocks of the keys ``counts_sql`` returns, in its order, each about ``block_rows`` rows.

    ``counts_sql`` gives one row per key (its key columns, then ``rows``: how many rows the key stands for, e.g. a
    location's series). A block is whole keys, closed once it holds ``block_rows`` rows or more, so a key is never
    split and a key bigger than ``block_rows`` is a block of its own. Yields the block's key columns."""
    counts = conn.execute(counts_sql, parameters).df()
    keys = [column for column in counts.columns if column != "rows"]
    start, held = 0, 0
    for end, rows in enumerate(counts["rows"].to_numpy(), start=1):
        held += int(rows)
        if held >= block_rows:
            yield counts.iloc[start:end][keys].reset_index(drop=True)
            start, held = end, 0
    if start < len(counts):
        yield counts.iloc[start:][keys].reset_index(drop=True)


@contextlib.contextmanager
def numbered_blocks(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    keys_sql: str,
    parameters: dict[str, object],
    *,
    block_size: int,
    order_by: Sequence[str] = ("partner_id", "location_id", "product_id"),
) -> Iterator[int]:
    """The keys ``keys_sql`` returns (one row each) as the temporary table ``table``, each numbered into a ``block``
    of ``block_size`` keys in ``order_by`` order, while the block runs; yields how many blocks there are (0 for no
    keys) and drops the table after. A query joined to ``table`` on one block reads only that block's rows."""
    if block_size < 1:
        raise ValueError(f"block size must be at least 1, got {block_size}")
    conn.execute(
        f"""create or replace temp table {table} as
            select *, (row_number() over (order by {", ".join(order_by)}) - 1) // $block_size as block
            from ({keys_sql})""",
        {**parameters, "block_size": block_size},
    )
    try:
        yield conn.execute(f"select coalesce(max(block) + 1, 0) from {table}").fetchone()[0]
    finally:
        conn.execute(f"drop table if exists {table}")


@contextlib.contextmanager
def registered(conn: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> Iterator[None]:
    """``frame`` readable in SQL as ``name`` while the block runs (a key table a query joins to)."""
    conn.register(name, frame)
    try:
        yield
    finally:
        conn.unregister(name)


def keep_most_actuals(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    scored_sql: str,
    parameters: dict[str, object],
    keys: Sequence[str],
    *,
    actuals_column: str = "actuals_through",
    create: bool = False,
    blocks: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write the rows of ``scored_sql`` into ``table``, keeping for each ``keys`` the row scored with the most
    actuals (the latest ``actuals_column``), in one transaction; returns the rows inserted.

    A score is replaced only by one made with as many actuals or more, so rerunning a past night (fewer actuals
    known) leaves a later night's scores alone. ``create``: make ``table`` from the scored rows' columns when it
    does not exist yet. ``blocks``: run ``scored_sql`` once per ``$block`` from 0 to ``blocks - 1`` (blocks of rows
    with distinct keys), writing each block's rows before scoring the next, so only one block's scores are held;
    ``progress(blocks_done, blocks)`` is called after each.
    """
    match = " and ".join(f"stored.{key} = scored.{key}" for key in keys)
    written = 0
    with transaction(conn):
        for block in range(1 if blocks is None else blocks):
            block_parameters = parameters if blocks is None else {**parameters, "block": block}
            conn.execute(f"create or replace temp table scored_rows as {scored_sql}", block_parameters)
            if create:
                conn.execute(f"create table if not exists {table} as select * from scored_rows limit 0")
            conn.execute(
                f"""delete from {table} as stored using scored_rows as scored
                    where {match} and stored.{actuals_column} <= scored.{actuals_column}"""
            )
            written += conn.execute(
                f"insert into {table} select scored.* from scored_rows as scored anti join {table} as stored on {match}"
            ).fetchone()[0]
            conn.execute("drop table scored_rows")
            if progress is not None and blocks is not None:
                progress(block + 1, blocks)
    return int(written)


def table_columns(conn: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """(column, DuckDB type) of `schema.table` in column order: what an analyst querying it sees."""
    schema, name = table.split(".")
    return conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, name],
    ).fetchall()
