"""How one cell of a column-mapped partner file is judged and converted: the rules both delimited load paths follow.

Every canonical column a file carries gets one :class:`CellRule` (:func:`cell_rules` builds them from the
partner's :class:`FileSpec`): a :class:`DateRule`, a :class:`NumberRule` (decimal comma, thousands mark, trailing
minus), a :class:`FlagRule` or a :class:`TextRule` (with the GTIN check on product refs). A rule says three things:

- :meth:`CellRule.judge`: the column's distinct stripped texts converted at once, with the reject reason of each
  text that cannot be used. The pandas pipeline (``delimited.py``, which Excel and JSON files go through too)
  spreads both to the lines.
- :meth:`CellRule.sql`: the same conversion written as DuckDB SQL for the fast path
  (``assets/feeds/loading/native_sql.py``), plus a *plain* test that is true only where DuckDB's conversion is
  known to equal :meth:`CellRule.judge`'s. A line failing it is refused and goes through :meth:`CellRule.judge`,
  so every reason text comes from here.
- :meth:`CellRule.absent` and :attr:`CellRule.default`: what the column holds where the file does not carry it
  or leaves an optional cell blank (the spec's constant, the partner's currency or :data:`DEFAULT_VALUES`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd

from assets.feeds.contracts import DATE_COLUMNS, FLAG_COLUMNS, QUANTITY_COLUMNS, RAW_FEED_COLUMNS
from assets.feeds.identity import gtin_problem
from assets.feeds.partner_config import LINEAGE_COLUMNS, REQUIRED_COLUMNS, FileSpec

# What an optional column holds when the file does not carry it (or leaves it blank on a line).
DEFAULT_VALUES: dict[str, object] = {
    "uom": "EA",
    "on_order_qty": 0.0,
    "in_transit_qty": 0.0,
    "units_returned": 0.0,
    "net_sales_amount": np.nan,
    "promo_flag": pd.NA,
}

# Characters str.strip() removes from a cell: ASCII ones, and the rest of Unicode's white space (a test keeps this
# list whole).
ASCII_SPACES = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
UNICODE_SPACES = (
    "\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_SPACE_CLASS = "".join(f"\\x{{{ord(char):x}}}" for char in ASCII_SPACES + UNICODE_SPACES)  # for a RE2 [class]

_NUMBER_BLANKS = "\u00a0\u202f"  # no-break spaces some spreadsheet exports put into numbers
# Characters DuckDB's cast to double reads in a number and pandas does not: a cell holding one is not plain.
SQL_NUMBER_UNSAFE = "_+"
_MAX_NUMBER_CHARS = 15  # digits beyond double precision are left to pandas
# A minus and zeros, no other digit: perhaps a negative zero ("-0", "0-", "-0,00"). pd.to_numeric reads "-0" as
# 0.0 when every other distinct text of its column is an integer too, else as -0.0: only the whole file says.
_NONZERO_DIGIT = re.compile("[1-9]")
# Date formats DuckDB's strptime reads exactly as pandas does: %Y, %m, %d and separators.
_SQL_DATE_FORMAT = re.compile(r"^(?:%[Ymd]|[-./])+$")
# DuckDB's strptime also reads 'epoch' and 'infinity' and years of fewer digits: such dates are left to pandas.
_PLAIN_DATE = "between date '1000-01-01' and date '9999-12-30' and {day} <> date '1970-01-01'"


@dataclass(frozen=True)
class Judgement:
    """A column's distinct texts converted: ``values[i]`` is text i's value, ``reasons[i]`` why it is rejected.

    ``reasons`` is None when no text is rejected, else an object array with "" for the texts that are fine.
    """

    values: np.ndarray | pd.arrays.BooleanArray
    reasons: np.ndarray | None


@dataclass
class SqlCell:
    """A mapped cell as the fast path's SQL sees it, and what that SQL may use.

    ``text`` is the SQL of the cell's text (NULL where the line has no such field; trimmed where the file's only
    white space is ' '), ``blank`` is true where the cell is blank; ``typed_date`` says DuckDB's reader already
    converted the cell to a DATE. ``derive(alias, expression)`` computes a conversion once per record and names
    it, for a test and a value that both read it. ``padded`` says the cell may start or end with white space the
    pandas path strips; ``number_guards`` are the characters of :data:`SQL_NUMBER_UNSAFE` the file holds.
    """

    text: str
    blank: str
    derive: Callable[[str, str], str]
    typed_date: bool = False
    padded: bool = False
    number_guards: tuple[str, ...] = ()


@dataclass
class SqlColumn:
    """A canonical column in SQL: its ``value`` and the ``tests`` a line must pass to be plain."""

    value: str
    tests: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CellRule:
    """How the cells of one canonical column are judged and converted, on either load path.

    ``fallback`` is the raw value an absent column or a blank optional cell stands for (None when unknown).
    """

    canonical: str
    required: bool
    fallback: object

    def judge(self, texts: np.ndarray, label: str) -> Judgement:
        """Distinct stripped ``texts`` (object array) converted, with reasons naming the column as ``label``."""
        values, reasons = self._convert(texts, label)
        if self.required:
            blank = texts == ""
            if blank.any():
                reasons = filled(len(texts), "") if reasons is None else reasons
                reasons[blank] = f"missing {label}"
        return Judgement(values, reasons)

    def absent(self, size: int) -> np.ndarray:
        """The column of ``size`` lines of a file that does not carry it."""
        return filled(size, None if self.fallback is None else str(self.fallback))

    @property
    def default(self) -> object:
        """What a blank optional cell holds (an absent column holds it on every line)."""
        return self.absent(1)[0]

    def sql(self, cell: SqlCell) -> SqlColumn:
        """The column's value and plain-line tests in DuckDB SQL, converting as :meth:`judge` does."""
        raise NotImplementedError

    def sql_default(self) -> str:
        """The SQL literal of :attr:`default`."""
        value = self.default
        return "null::varchar" if value is None else sql_literal(str(value))

    def _convert(self, texts: np.ndarray, label: str) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError


@dataclass(frozen=True)
class DateRule(CellRule):
    """A day in the partner's ``date_format``; a blank cell is no day (NaT)."""

    date_format: str = "%Y-%m-%d"

    def _convert(self, texts: np.ndarray, label: str) -> tuple[np.ndarray, np.ndarray | None]:
        parsed = pd.to_datetime(pd.Series(texts, dtype=object), format=self.date_format, errors="coerce")
        days = parsed.dt.normalize().to_numpy(dtype="datetime64[s]")
        bad = np.isnat(days) & (texts != "")
        return days, _reasons(bad, texts, "bad date ", f" for format {self.date_format} in {label}")

    def absent(self, size: int) -> np.ndarray:
        return np.full(size, self._constant_day(), dtype="datetime64[s]")

    def _constant_day(self) -> np.datetime64:
        value = self.fallback
        if value is None:
            return np.datetime64("NaT", "s")
        if isinstance(value, date):
            return np.datetime64(value, "D").astype("datetime64[s]")
        for form in (self.date_format, "%Y-%m-%d"):
            try:
                return np.datetime64(datetime.strptime(str(value), form).date(), "D").astype("datetime64[s]")
            except ValueError:
                continue
        return np.datetime64("NaT", "s")

    def sql(self, cell: SqlCell) -> SqlColumn:
        if cell.typed_date:
            day = cell.text  # converted by the reader, which skips a line whose date does not convert
        else:
            day = cell.derive(f"day_{self.canonical}", f"try_strptime({cell.text}, '{self.date_format}')::date")
        plain = f"{day} {_PLAIN_DATE.format(day=day)}"
        # An optional date left blank stays empty (a sales period end then defaults to its start): a blank cell
        # reads as NULL, and a cell that is neither blank nor plain refuses the line.
        return SqlColumn(day, [plain if self.required else f"({cell.blank} or ({plain}))"])

    def sql_default(self) -> str:
        value = self.default
        return "null::date" if np.isnat(value) else f"date '{np.datetime64(value, 'D')}'"


@dataclass(frozen=True)
class NumberRule(CellRule):
    """A quantity with the partner's decimal and thousands marks; a blank optional cell takes the default."""

    decimal: str = "."
    thousands: str | None = None

    def _convert(self, texts: np.ndarray, label: str) -> tuple[np.ndarray, np.ndarray | None]:
        text = pd.Series(texts, dtype=object)
        for blank in _NUMBER_BLANKS:
            text = text.str.replace(blank, "", regex=False)
        if self.thousands:
            text = text.str.replace(self.thousands, "", regex=False)
        if self.decimal != ".":
            text = text.str.replace(self.decimal, ".", regex=False)
        # ERP exports (SAP among them) write negatives with a trailing minus: "12-".
        trailing_minus = text.str.endswith("-") & (text.str.len() > 1)
        text = text.where(~trailing_minus, "-" + text.str[:-1])
        numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(numbers)
        bad = ~finite & (texts != "")
        numbers = np.where(finite, numbers, np.nan)
        if not self.required:
            numbers = np.where(texts == "", self.default, numbers)
        return numbers, _reasons(bad, texts, "bad number ", f" in {label}")

    def absent(self, size: int) -> np.ndarray:
        return np.full(size, np.nan if self.fallback is None else float(self.fallback), dtype=float)

    @staticmethod
    def perhaps_negative_zero(cell: str) -> bool:
        """A minus and zeros, no other digit ("-0", "0-", "-0,00"): pandas takes its sign from the whole column."""
        return "-" in cell and "0" in cell and not _NONZERO_DIGIT.search(cell)

    def sql(self, cell: SqlCell) -> SqlColumn:
        text = cell.text
        if self.thousands:
            text = f"replace({text}, {sql_literal(self.thousands)}, '')"
        if self.decimal != ".":
            text = f"replace({text}, {sql_literal(self.decimal)}, '.')"
        number = cell.derive(f"number_{self.canonical}", f"try_cast({text} as double)")
        # A plain line reads as a number, so its zero and its minus suffice to spot a perhaps negative zero.
        signed_zero = f"({number} = 0 and strpos({cell.text}, '-') > 0)"
        tests = [f"isfinite({number})", f"strlen({cell.text}) <= {_MAX_NUMBER_CHARS}", f"not {signed_zero}"]
        tests += [f"strpos({cell.text}, {sql_literal(char)}) = 0" for char in cell.number_guards]
        plain = " and ".join(tests)
        if self.required:
            return SqlColumn(number, [plain])
        # Blank reads as NULL, so the default; any other cell that does not read refuses the line.
        return SqlColumn(f"coalesce({number}, {self.sql_default()})", [f"({cell.blank} or ({plain}))"])

    def sql_default(self) -> str:
        value = self.default
        return "null::double" if np.isnan(value) else f"{float(value)!r}::double"


@dataclass(frozen=True)
class FlagRule(CellRule):
    """Yes or no, spelled as the partner's true and false values (compared case-folded); blank is unknown (NA)."""

    true_values: tuple[str, ...] = ()
    false_values: tuple[str, ...] = ()

    def _convert(self, texts: np.ndarray, label: str) -> tuple[pd.arrays.BooleanArray, np.ndarray | None]:
        lookup = self._lookup()
        mapped = [lookup.get(value.casefold(), pd.NA) for value in texts]
        bad = np.array([value != "" and value.casefold() not in lookup for value in texts], dtype=bool)
        unknown = np.array([value is pd.NA for value in mapped], dtype=bool)
        flags = np.array([value is True for value in mapped], dtype=bool)
        return pd.arrays.BooleanArray(flags, unknown), _reasons(bad, texts, "bad flag ", f" in {label}")

    def _lookup(self) -> dict[str, bool]:
        trues = {value.casefold(): True for value in self.true_values}
        return trues | {value.casefold(): False for value in self.false_values}

    def absent(self, size: int) -> pd.arrays.BooleanArray:
        unknown = self.fallback is None or self.fallback is pd.NA
        return pd.arrays.BooleanArray(np.full(size, not unknown and bool(self.fallback)), np.full(size, unknown))

    def spellings(self) -> dict[str, bool]:
        """Exact cell texts and what they mean (the comparison is case-folded): the usual casings of each value."""
        lookup = self._lookup()
        spellings: dict[str, bool] = {}
        for value in (*self.true_values, *self.false_values):
            for spelling in (value, value.lower(), value.upper(), value.casefold(), value.title()):
                meaning = lookup.get(spelling.casefold())
                if spelling and meaning is not None:
                    spellings.setdefault(spelling, meaning)
        return spellings

    def sql(self, cell: SqlCell) -> SqlColumn:
        meanings = self.spellings()
        tests = _unpadded(f"coalesce({cell.text}, '')", cell)
        spelled = ", ".join(sql_literal(spelling) for spelling in meanings)
        known = f"{cell.text} in ({spelled})" if meanings else "false"
        tests.append(f"{cell.text} <> '' and {known}" if self.required else f"({cell.blank} or {known})")
        truths = ", ".join(sql_literal(spelling) for spelling, meaning in meanings.items() if meaning)
        if truths:  # blank (NULL or '') stays NULL
            return SqlColumn(f"nullif({cell.text}, '') in ({truths})", tests)
        # No spelling means true (a text configured as both reads as false): "in ()" is not SQL.
        return SqlColumn(f"case when {cell.blank} then null::boolean else false end", tests)

    def sql_default(self) -> str:
        value = self.default
        return "null::boolean" if value is pd.NA else ("true" if value else "false")


@dataclass(frozen=True)
class TextRule(CellRule):
    """Text as sent (stripped); a product ref is checked as a GTIN, and normalised to 14 digits, when configured."""

    gtin_mode: str = "off"  # off | verify | normalise

    def _convert(self, texts: np.ndarray, label: str) -> tuple[np.ndarray, np.ndarray | None]:
        text = texts.copy()
        if not self.required:
            text[text == ""] = self.default
        if self.gtin_mode == "off":
            return text, None
        problems = np.array([gtin_problem(value) or "" if value else "" for value in text], dtype=object)
        bad = problems != ""
        reasons = None
        if bad.any():
            reasons = filled(len(texts), "")
            reasons[bad] = problems[bad] + f" in {label}"
        if self.gtin_mode == "normalise":
            text = np.array(
                [
                    value if problem or not value else value.zfill(14)
                    for value, problem in zip(text, problems, strict=True)
                ],
                dtype=object,
            )
        return text, reasons

    def sql(self, cell: SqlCell) -> SqlColumn:
        if self.gtin_mode != "off":
            raise ValueError("GTIN checks have no SQL form: such files take the pandas path")
        if self.required:
            return SqlColumn(cell.text, [f"{cell.text} <> ''", *_unpadded(cell.text, cell)])
        tests = _unpadded(f"coalesce({cell.text}, '')", cell)
        return SqlColumn(f"coalesce(nullif({cell.text}, ''), {self.sql_default()})", tests)


def cell_rules(spec: FileSpec, default_currency: str | None = None) -> dict[str, CellRule]:
    """The rule of every canonical column (lineage aside) of the spec's record type, in table order.

    ``default_currency`` (the partner's) fills ``currency`` where the spec gives no constant.
    """
    required = REQUIRED_COLUMNS[spec.record_type]
    rules: dict[str, CellRule] = {}
    for canonical in RAW_FEED_COLUMNS[spec.record_type]:
        if canonical in LINEAGE_COLUMNS:
            continue
        common = {
            "canonical": canonical,
            "required": canonical in required,
            "fallback": default_value(canonical, spec.constants, default_currency),
        }
        if canonical in DATE_COLUMNS:
            rules[canonical] = DateRule(**common, date_format=spec.date_format)
        elif canonical in QUANTITY_COLUMNS:
            rules[canonical] = NumberRule(**common, decimal=spec.decimal, thousands=spec.thousands)
        elif canonical in FLAG_COLUMNS:
            rules[canonical] = FlagRule(
                **common, true_values=tuple(spec.true_values), false_values=tuple(spec.false_values)
            )
        else:
            gtin_mode = spec.gtin_mode if canonical == "product_ref" else "off"
            rules[canonical] = TextRule(**common, gtin_mode=gtin_mode)
    return rules


def default_value(canonical: str, constants: Mapping[str, object], default_currency: str | None) -> object:
    """What a column stands for where a file leaves it out: the spec's constant, the currency or the default."""
    if canonical in constants:
        return constants[canonical]
    if canonical == "currency":
        return default_currency
    return DEFAULT_VALUES.get(canonical)


def sql_refusal(spec: FileSpec) -> str | None:
    """Why the spec's cells have no exact SQL form (the file then takes the pandas path), or None."""
    if spec.record_type == "promotion":
        return "promotion rows are judged whole (types, dates, depth)"
    if spec.gtin_mode != "off":
        return "GTIN checks on product refs"
    if any(canonical in DATE_COLUMNS for canonical in spec.columns) and not _SQL_DATE_FORMAT.match(spec.date_format):
        return f"date format {spec.date_format}"
    return None


def fill_one_day_periods(values: dict[str, np.ndarray]) -> None:
    """Daily feeds carry one date: a blank or absent period end means a one-day period (sales only)."""
    if "period_end" in values and "period_start" in values:
        values["period_end"] = np.where(np.isnat(values["period_end"]), values["period_start"], values["period_end"])


def sql_one_day_periods(expressions: dict[str, str]) -> None:
    """:func:`fill_one_day_periods` for the SQL values of the columns."""
    if "period_end" in expressions and "period_start" in expressions:
        expressions["period_end"] = f"coalesce({expressions['period_end']}, {expressions['period_start']})"


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _unpadded(text: str, cell: SqlCell) -> list[str]:
    """Refuse cells that start or end with white space the pandas path would strip (only where some might)."""
    if not cell.padded:
        return []
    return [f"not regexp_matches({text}, '^[{_SPACE_CLASS}]|[{_SPACE_CLASS}]$')"]


def _reasons(bad: np.ndarray, texts: np.ndarray, before: str, after: str) -> np.ndarray | None:
    """Reasons "<before>'<text>'<after>" for the ``bad`` texts, "" for the others; None when none is bad."""
    if not bad.any():
        return None
    reasons = filled(len(texts), "")
    reasons[bad] = before + "'" + texts[bad] + "'" + after
    return reasons


def filled(size: int, value: object) -> np.ndarray:
    """An object array holding ``value`` everywhere (``np.full`` is an order of magnitude slower for objects)."""
    array = np.empty(size, dtype=object)
    array.fill(value)
    return array
