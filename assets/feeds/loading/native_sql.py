"""The SQL that loads one planned delimited file through DuckDB's CSV reader, generated from the cell rules.

:class:`NativeInsert` writes one ``insert ... select`` over ``read_csv``: every record of the file goes in, in
file order, with each mapped cell converted by the SQL form of its column's
:class:`~assets.feeds.parsers.cell_rules.CellRule`. A record whose cells are not all *plain* (a test under which
DuckDB's conversion is known to equal the pandas path's; the rule writes it) is marked with
:data:`REFUSED_MARK` as its line, for ``delimited_duckdb.load_native`` to hand to the pandas pipeline.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence

from assets.feeds.contracts import DATE_COLUMNS
from assets.feeds.loading.native_plan import NULL_TEXT, NativeRead
from assets.feeds.parsers.cell_rules import SqlCell, cell_rules, sql_one_day_periods

# ``source_line`` of a record the plain-line test refused, until load_native deletes it; no line is numbered < 1.
REFUSED_MARK = -1
# Where DuckDB's reader records the lines it skipped because a typed cell did not convert (temporary tables).
REJECTS_TABLE = "_cmi_csv_rejects"
REJECT_SCANS_TABLE = "_cmi_csv_reject_scans"
_NULL_LITERAL = re.compile(r"^null::\w+$")  # what a rule's sql_default gives for a column without a value


class NativeInsert:
    """The SQL of one planned file: the insert of all its records, each marked plain or refused.

    ``parameters`` go with :meth:`insert` to ``execute``; ``expressions`` holds each column's SQL value and
    ``tests`` the conditions a plain record meets.
    """

    def __init__(
        self,
        plan: NativeRead,
        columns: Sequence[str],
        types: Mapping[str, str],
        partner_id: str,
        source_file_id: str,
        default_currency: str | None,
    ) -> None:
        self.plan = plan
        self.columns = list(columns)
        self.types = types
        self.parameters: dict[str, object] = {
            "path": plan.path.as_posix(),
            "delimiter": plan.spec.delimiter,
            "null_text": NULL_TEXT,
            "partner_id": partner_id,
            "source_file_id": source_file_id,
        }
        self.default_currency = default_currency
        # Cells the reader converts to dates itself (see NativeRead.typed_dates).
        self.typed_positions = (
            {position for name, position in plan.positions.items() if name in DATE_COLUMNS}
            if plan.typed_dates
            else set()
        )
        self.expressions: dict[str, str] = {}
        self.tests: list[str] = []
        # Conversions the tests and the inserted value share, computed once per record (alias -> expression).
        self.derived: dict[str, str] = {}
        self._build()

    @property
    def cell_count(self) -> int:
        return self.plan.width + self.plan.extra_columns

    def source(self) -> str:
        cells = ", ".join(
            f"'c{index}': '{'DATE' if index in self.typed_positions else 'VARCHAR'}'"
            for index in range(self.cell_count)
        )
        typed = ""
        if self.typed_positions:
            # The date format is made of %Y, %m, %d and separators only (plan_native_read checked).
            typed = (
                f"dateformat = '{self.plan.spec.date_format}', store_rejects = true, "
                f"rejects_table = '{REJECTS_TABLE}', rejects_scan = '{REJECT_SCANS_TABLE}', "
            )
        read = (
            "read_csv($path, header = false, skip = 1, auto_detect = false, "
            f"columns = {{{cells}}}, delim = $delimiter, quote = '\"', escape = '\"', {typed}"
            f"new_line = '{self.plan.new_line}', null_padding = true, nullstr = $null_text, "
            # Once any line sends the pandas path to the csv module, a field longer than its limit makes the
            # file unusable there: a longer line makes DuckDB stop (or skip it), and the file takes the pandas path.
            f"max_line_size = {csv.field_size_limit()})"
        )
        if not self.derived:
            return read
        derived = ", ".join(f"{expression} as {alias}" for alias, expression in self.derived.items())
        return f"(select *, {derived} from {read})"

    def plain(self) -> str:
        return " and ".join(self.tests) if self.tests else "true"

    def insert(self, table: str) -> str:
        """Every record, in file order; a refused one carries ``REFUSED_MARK`` as its line, the others none yet.

        No filter and no numbering: both would cost more than the read (a filter makes the insert gather rows,
        numbering runs the read on one thread). :func:`load_native` numbers the rows by row id afterwards.
        """
        # A column the file leaves null throughout is left out: the raw tables have no defaults, so it stays null,
        # and writing a million nulls costs as much as writing values.
        written = [column for column in self.columns if not _NULL_LITERAL.match(self.expressions[column])]
        selected = ", ".join(f"cast({self.expressions[column]} as {self.types[column]})" for column in written)
        return f"insert into {table} ({', '.join(written)}) select {selected} from {self.source()}"

    def _build(self) -> None:
        for canonical, rule in cell_rules(self.plan.spec, self.default_currency).items():
            if canonical not in self.columns:
                continue
            position = self.plan.positions.get(canonical)
            if position is None:
                self.expressions[canonical] = rule.sql_default()
                continue
            text = f"c{position}"
            if self.plan.blanks == "spaces":
                text = f"trim({text})"
            typed = position in self.typed_positions
            cell = SqlCell(
                text=text,
                blank=f"({text} is null)" if typed else f"({text} is null or {text} = '')",
                derive=self._derive,
                typed_date=typed,
                padded=self.plan.blanks == "any",
                number_guards=self.plan.number_guards,
            )
            column = rule.sql(cell)
            self.tests.extend(column.tests)
            self.expressions[canonical] = column.value
        sql_one_day_periods(self.expressions)
        self.expressions["partner_id"] = "$partner_id"
        self.expressions["source_file_id"] = "$source_file_id"
        self.expressions["merged_lines"] = "null::integer"  # one line, one row: nothing merged
        for index in range(self.plan.width, self.cell_count):
            self.tests.append(f"coalesce(c{index}, '') = ''")
        # A test that is NULL (a cell missing) refuses the line too: CASE takes only a true condition.
        self.expressions["source_line"] = f"case when {self.plain()} then null else {REFUSED_MARK} end"

    def _derive(self, alias: str, expression: str) -> str:
        """A conversion read by both the plain-line test and the inserted value: the name of its one computation."""
        self.derived[alias] = expression
        return alias
