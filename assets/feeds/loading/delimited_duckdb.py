"""Delimited partner files read by DuckDB's own CSV reader and inserted in place: the loader's fast path.

:func:`~assets.feeds.parsers.delimited.parse_delimited` tokenises a file with pandas on one core and hands the loader
frames to insert; here DuckDB reads the file in parallel and one ``insert ... select`` writes the canonical rows
straight into the raw table, inside the loader's transaction. The outcome is the same as parsing with
``parse_delimited`` and inserting its frames: the same rows (values, ``source_line``, ``source_file_id``), the
same rejects with the same reasons, the same :class:`FeedError` for a file that cannot be used. Both paths convert
cells by the same rules (``assets/feeds/parsers/cell_rules.py``).

1. :func:`~assets.feeds.loading.native_plan.plan_native_read` (``native_plan.py``) decides from a
   :class:`~assets.feeds.loading.byte_profile.ByteProfile` of the bytes whether DuckDB reads this file exactly as
   the csv module does, and counts its physical lines. A file it cannot vouch for raises
   :class:`NativeReadUnsupported` and takes the pandas path; so does a line longer than the csv module's field
   limit, at which DuckDB's reader stops.
2. :func:`load_native` inserts every record in one parallel ``insert ... select`` (``native_sql.py``), marking the
   ones that are not *plain*: a plain line has every mapped cell pass its rule's SQL test, under which DuckDB's
   conversion is known to equal the pandas path's. The test may refuse a good line; it never accepts one the
   pandas path would read otherwise. Where no blank touches a cell, the reader converts the dates itself (the same
   ``strptime``): a line whose date does not convert it skips and records, and that line is refused too.
3. DuckDB keeps the rows in the order of the file, so the n-th row id of the file's rows is its n-th record:
   one ``update`` (:class:`LineNumbering`) turns row ids into ``source_line``, around the lines without a record
   (empty lines, which DuckDB skips, and the lines it skipped for a date). Those are found by counting: fewer
   records than lines sends the planner looking for the empty lines, and a count they do not explain (a quoted
   field spanning lines) sends the file to the pandas path. Numbering inside the insert
   (``row_number() over ()``) would run the whole read on one thread.
4. The marked records are deleted, and their lines and the skipped ones, split by the csv module from the
   file's bytes (read again, and checked to be the ones hashed), go through the pandas path's own column
   pipeline (:func:`~assets.feeds.parsers.delimited.records_to_result`), which turns them into rows and rejects.
   A refused line holding a possible negative zero (whose sign pandas takes from the whole column) raises
   :class:`NativeReadUnsupported`: the loader rolls back and uses the pandas path.

Other encodings (GBK, UTF-16) stay on the pandas path: decoding is most of their cost there anyway.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from assets.feeds.contracts import QUANTITY_COLUMNS
from assets.feeds.loading.native_plan import NativeRead, NativeReadUnsupported
from assets.feeds.loading.native_sql import REFUSED_MARK, REJECT_SCANS_TABLE, REJECTS_TABLE, NativeInsert
from assets.feeds.parsers.cell_rules import NumberRule
from assets.feeds.parsers.delimited import QUOTE_CHAR, TextRecords, joiner, records_to_result
from assets.feeds.parsers.results import ParseResult

# Lines without a record (empty ones, those DuckDB skipped) shift every later line number. Up to this many runs
# of them, a balanced CASE numbers the rows; past it, planning that CASE costs more than an ASOF join.
CASE_RUNS = 64
_RUNS_TABLE = "_cmi_line_runs"
_UNNUMBERED = f"(source_line is null or source_line = {REFUSED_MARK})"  # the rows load_native just inserted
# A large file with more than this share of its lines refused is read by the pandas path (see load_native).
_REFUSED_SHARE_MAX = 0.1
_REFUSED_SHARE_MIN_RECORDS = 10_000


@dataclass
class NativeLoad:
    """What :func:`load_native` wrote and what the loader still has to write (rows and rejects of refused lines)."""

    inserted: int
    remainder: ParseResult | None  # None when every line went in
    days: tuple[date, date] | None = None  # earliest and latest ``key_day`` of the inserted rows

    @property
    def rows_parsed(self) -> int:
        return self.inserted + (self.remainder.rows_parsed if self.remainder else 0)

    @property
    def rows_rejected(self) -> int:
        return self.remainder.rows_rejected if self.remainder else 0


def _runs(lines: Sequence[int]) -> list[tuple[int, int]]:
    """Lines without a record (sorted numbers, after the header) as runs: (data records before it, its length).

    DuckDB numbers records without them, so a record's line is its number + 1 (header) + the lengths of the
    runs before it.
    """
    runs: list[tuple[int, int]] = []
    previous = -2
    for without_record_before, line in enumerate(lines):
        if line == previous + 1:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((line - 2 - without_record_before, 1))
        previous = line
    return runs


# --- reading and inserting ----------------------------------------------------------------------------------


def load_native(
    conn: duckdb.DuckDBPyConnection,
    plan: NativeRead,
    table: str,
    columns: Sequence[str],
    types: Mapping[str, str],
    partner_id: str,
    source_file_id: str,
    *,
    default_currency: str | None = None,
    key_day: str | None = None,
) -> NativeLoad:
    """Insert the plain lines of the planned file into ``table`` (its ``columns``, cast to ``types``).

    Runs inside the caller's transaction. Returns the count inserted, the range of the ``key_day`` column over
    the inserted rows and, as a :class:`ParseResult` (None when there are none), the rows and rejects of the
    other lines for the caller to write. Raises FeedError when the file has no data lines,
    NativeReadUnsupported when DuckDB cannot read it as planned (the caller rolls back and uses the pandas path).
    """
    query = NativeInsert(plan, columns, types, partner_id, source_file_id, default_currency)
    _require_insertion_order(conn)
    if plan.typed_dates:
        _drop_rejects_tables(conn)
    _execute(conn, query.insert(table), query.parameters)
    skipped = _skipped_lines(conn, plan) if plan.typed_dates else []
    # The file's rows are the table's only ones without a line yet (every loaded row has one), found by that
    # integer rather than by comparing every row's file id: the row groups of loaded files are skipped whole.
    # Should another row lack a line after all, the count or the row ids below do not add up: pandas path.
    # One scan answers every question about them.
    day_range = "null, null"
    if key_day is not None:
        plain = "filter (where source_line is null)"
        day_range = f"min({key_day}) {plain}, max({key_day}) {plain}"
    refused_count, count, first, last, first_day, last_day = conn.execute(
        f"select count(*) filter (where source_line = {REFUSED_MARK}), count(*), min(rowid), max(rowid), "
        f"{day_range} from {table} where {_UNNUMBERED}"
    ).fetchone()
    days = (first_day, last_day) if first_day is not None else None
    records = count + len(skipped)
    if records >= _REFUSED_SHARE_MIN_RECORDS and (refused_count + len(skipped)) > _REFUSED_SHARE_MAX * records:
        # Each refused line goes through the csv module and the pandas pipeline on its own; past this share the
        # pandas path reads the whole file faster (a partner who changed its date format refuses every line).
        raise NativeReadUnsupported(f"{refused_count + len(skipped)} of {records} lines refused")
    without_record = skipped
    if count != plan.lines - 1 - len(skipped):
        # Fewer records than lines: DuckDB skipped empty lines, or a quoted field spans lines. Only the first
        # keeps each record on its own line.
        empty = plan.empty_lines.tolist()
        if count != plan.lines - 1 - len(skipped) - len(empty):
            raise NativeReadUnsupported(
                "records do not add up to the lines (a quoted field spans lines, or other rows lack a line)"
            )
        without_record = sorted(skipped + empty)
    if count and last - first + 1 != count:
        raise NativeReadUnsupported("the file's rows did not get consecutive row ids")
    # Rows are stored in file order: the i-th row of the file is its i-th record.
    numbering = LineNumbering(conn, table, first or 0, _runs(without_record))
    numbering.number_plain_rows()
    marked = numbering.refused_lines() if refused_count else []
    numbering.close()
    inserted = count - refused_count
    refused: list[tuple[int, list[str]]] = []
    if refused_count or skipped:
        if refused_count:
            conn.execute(f"delete from {table} where source_line = {REFUSED_MARK}")
        refused = _refused_lines(plan, sorted(marked + skipped))
        quantities = [position for name, position in plan.positions.items() if name in QUANTITY_COLUMNS]
        if any(_perhaps_signed_zero(fields, quantities) for _, fields in refused):
            raise NativeReadUnsupported("a quantity may be a negative zero, whose sign depends on the whole column")
    if inserted and not refused:
        return NativeLoad(inserted, None, days)
    remainder = records_to_result(
        _refused_records(plan, refused),
        plan.spec,
        partner_id,
        source_file_id,
        plan.path,
        default_currency=default_currency,
        require_rows=inserted == 0,
    )
    return NativeLoad(inserted, remainder, days)


class LineNumbering:
    """Line numbers for the rows just inserted, from their row ids and the runs of lines without a record."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, table: str, first: int, runs: list[tuple[int, int]]) -> None:
        self.conn, self.table, self.runs = conn, table, runs
        self.record = f"(rowid - {first} + 1)"  # the row's record number in the file, from 1

    def number_plain_rows(self) -> None:
        if len(self.runs) <= CASE_RUNS:
            line = _line_sql(self.record, self.runs)
            self.conn.execute(f"update {self.table} set source_line = {line} where source_line is null")
            return
        self._create_runs_table()
        self.conn.execute(
            f"update {self.table} as target set source_line = numbered.line "
            f"from ({self._numbered('source_line is null')}) as numbered where target.rowid = numbered.row_id"
        )

    def refused_lines(self) -> list[int]:
        """The lines of the rows marked refused."""
        refused = f"source_line = {REFUSED_MARK}"
        if len(self.runs) <= CASE_RUNS:
            sql = f"select {_line_sql(self.record, self.runs)} from {self.table} where {refused}"
        else:
            sql = f"select line from ({self._numbered(refused)})"
        return [line for (line,) in self.conn.execute(sql).fetchall()]

    def close(self) -> None:
        if len(self.runs) > CASE_RUNS:
            self.conn.execute(f"drop table if exists temp.main.{_RUNS_TABLE}")

    def _create_runs_table(self) -> None:
        shifts = np.cumsum([length for _, length in self.runs]).tolist()
        self.conn.execute(
            f"create or replace temp table {_RUNS_TABLE} as "
            "select unnest($bounds)::bigint as records_before, unnest($shifts)::bigint as shift",
            {"bounds": [records_before for records_before, _ in self.runs], "shifts": shifts},
        )

    def _numbered(self, condition: str) -> str:
        """Rows matching ``condition`` with their line: each takes the shift of the last run before it."""
        record = self.record.replace("rowid", "row.rowid")
        return (
            f"select row.rowid as row_id, {record} + 1 + coalesce(runs.shift, 0) as line "
            f"from {self.table} as row asof left join temp.main.{_RUNS_TABLE} as runs "
            f"on {record} > runs.records_before where row.{condition}"
        )


def _line_sql(record: str, runs: Sequence[tuple[int, int]]) -> str:
    """SQL for a record's physical line: its number, the header and the lines without a record before it.

    A balanced CASE over the ``runs`` (see :func:`_runs`): each record passes about log2(runs) comparisons.
    """
    bounds = [records_before for records_before, _ in runs]
    shifts = [0]
    for _, length in runs:
        shifts.append(shifts[-1] + length)

    def between(low: int, high: int) -> str:  # records after run low - 1 and up to run high
        if low == high:
            return f"{record} + {1 + shifts[low]}"
        middle = (low + high) // 2
        return (
            f"case when {record} <= {bounds[middle]} then {between(low, middle)} else {between(middle + 1, high)} end"
        )

    return between(0, len(runs))


def _drop_rejects_tables(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(f"drop table if exists temp.main.{REJECTS_TABLE}; drop table if exists temp.main.{REJECT_SCANS_TABLE}")


def _skipped_lines(conn: duckdb.DuckDBPyConnection, plan: NativeRead) -> list[int]:
    """The lines DuckDB's reader skipped because a date did not convert (sorted); the rejects tables are dropped.

    Any other reason it skipped a line for (a line longer than the header plus the extra cells, a stray quote)
    means the file is not as planned: NativeReadUnsupported.
    """
    rows = conn.execute(f"select line, error_type, csv_line from temp.main.{REJECTS_TABLE} order by line").fetchall()
    _drop_rejects_tables(conn)
    reasons = {error_type for _, error_type, _ in rows}
    if reasons - {"CAST"}:
        raise NativeReadUnsupported(f"DuckDB's reader skipped lines: {', '.join(sorted(reasons))}")
    # Lines are numbered from these: each must be the line the file has there.
    for line, _, text in rows:
        if not 2 <= line <= plan.lines or text is None or plan.line_text(line) != text.strip("\r\n"):
            raise NativeReadUnsupported(f"DuckDB's reader skipped a line it places elsewhere than line {line}")
    return sorted({line for line, _, _ in rows})


def _refused_lines(plan: NativeRead, lines: Sequence[int]) -> list[tuple[int, list[str]]]:
    """The fields of these lines of the file, split by the csv module (which DuckDB's reader matches here).

    Taken from the file's bytes (:attr:`NativeRead.data`): reading the file again in DuckDB would need its records
    numbered, which runs the read on one thread.
    """
    texts = [plan.line_text(line) for line in lines]  # lines >= 2: the header is line 1
    # One reader for all of them, faster than one per line: each text is a whole record (DuckDB read it so).
    reader = csv.reader(texts, delimiter=plan.spec.delimiter, quotechar=QUOTE_CHAR)
    refused = []
    for index, line in enumerate(lines):
        fields = next(reader, [])
        if reader.line_num != index + 1:
            raise NativeReadUnsupported(f"line {line} is not one whole record for the csv module")
        refused.append((line, fields))
    return refused


def _perhaps_signed_zero(fields: Sequence[str], positions: Sequence[int]) -> bool:
    """Whether a quantity cell may be a negative zero (see :meth:`NumberRule.perhaps_negative_zero`)."""
    return any(
        NumberRule.perhaps_negative_zero(fields[position] if position < len(fields) else "") for position in positions
    )


def _refused_records(plan: NativeRead, refused: list[tuple[int, list[str]]]) -> TextRecords:
    """Refused lines as the text records the pandas path builds (short lines padded, long ones rejected)."""
    width = plan.width
    delimiter = plan.spec.delimiter
    kept: list[list[str]] = []
    lines: list[int] = []
    structural: list[tuple[int, str, str]] = []
    for line, fields in refused:
        if len(fields) > width and any(value.strip() for value in fields[width:]):
            structural.append((line, f"expected {width} fields, found {len(fields)}", delimiter.join(fields)))
            continue
        kept.append((fields + [""] * width)[:width])
        lines.append(line)
    data = pd.DataFrame(kept, columns=range(width), dtype=object)
    return TextRecords(plan.header, data, np.asarray(lines, dtype=np.int64), structural, raw_records=joiner(delimiter))


def _require_insertion_order(conn: duckdb.DuckDBPyConnection) -> None:
    """Line numbers come from row ids, which follow the file only while DuckDB preserves insertion order."""
    (preserved,) = conn.execute("select current_setting('preserve_insertion_order')").fetchone()
    if not preserved:
        raise NativeReadUnsupported("preserve_insertion_order is off: row ids would not follow the file")


def _execute(conn: duckdb.DuckDBPyConnection, sql: str, parameters: dict) -> list[tuple]:
    try:
        return conn.execute(sql, parameters).fetchall()
    except (duckdb.InvalidInputException, duckdb.ConversionException) as exc:
        # DuckDB refused the text (a line longer than the header plus two, an unterminated quote ...).
        raise NativeReadUnsupported(f"DuckDB cannot read the file: {str(exc).splitlines()[0]}") from exc
    except duckdb.Error as exc:
        # The parallel reader refuses a quoted field spanning lines (with null padding) by a bare duckdb.Error;
        # only CSV errors mean "not this way", anything else is the database's and propagates.
        if type(exc) is not duckdb.Error or "CSV Error" not in str(exc):
            raise
        raise NativeReadUnsupported(f"DuckDB cannot read the file: {str(exc).splitlines()[0]}") from exc
