"""What every parser returns: canonical rows per record type and their rejects, as typed frames.

A :class:`ParseResult` holds one record type's rows (exactly ``RAW_FEED_COLUMNS``, each with the dtype
:func:`typed_series` gives it) and its line-level rejects (``REJECT_COLUMNS``); a :class:`ParsedFile` collects them
for one delivered file. Column-mapped files get theirs from ``delimited.py``; the EDI parsers assemble rows column
by column and type them with :func:`result_from_columns`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assets.feeds.contracts import DATE_COLUMNS, FLAG_COLUMNS, QUANTITY_COLUMNS, RAW_FEED_COLUMNS, REJECT_COLUMNS
from assets.feeds.parsers.cell_rules import default_value
from assets.feeds.parsers.interchange import Interchange, QuantityAccount


@dataclass
class ParseResult:
    """Canonical rows of one record type from one file, plus the lines that could not be used.

    ``rows`` has exactly ``RAW_FEED_COLUMNS[record_type]`` in order; ``rejects`` has ``REJECT_COLUMNS``.
    """

    record_type: str
    rows: pd.DataFrame
    rejects: pd.DataFrame

    @property
    def rows_parsed(self) -> int:
        """Lines turned into canonical rows (rejected lines are not counted)."""
        return len(self.rows)

    @property
    def rows_rejected(self) -> int:
        return len(self.rejects)


@dataclass
class ParsedFile:
    """Everything one delivered file yields: a :class:`ParseResult` per record type it carries, and its envelope.

    An X12 852 or an EDIFACT interchange reports stock and sales at once, so results are keyed by record type.
    ``control_number`` is the interchange control number (X12 ISA13, EDIFACT UNB 0020) where the format has one;
    ``position`` says what ``source_line`` counts in this format: line, row (Excel), record (JSON) or segment.
    """

    results: dict[str, ParseResult]
    control_number: str | None = None
    position: str = "line"
    # EDI files: where every quantity element went, and each interchange (for its acknowledgment).
    account: QuantityAccount | None = None
    interchanges: list[Interchange] = field(default_factory=list)
    # What became of each interchange (``interchange_outcomes.InterchangeOutcome``), in file order.
    outcomes: list = field(default_factory=list)

    @property
    def unusable_reason(self) -> str | None:
        """Why a structurally valid EDI file yields no row to load, or None when it yields some (or is not EDI)."""
        if self.account is None or self.rows_parsed:
            return None
        if self.rows_rejected:
            first = next(result for result in self.results.values() if result.rows_rejected)
            return f"every row rejected ({self.rows_rejected}); first: {first.rejects['reason'].iloc[0]}"
        unmapped = self.account.unmapped_reason()
        if unmapped:
            return unmapped
        unused = self.account.unused_summary()
        return f"no quantity could be loaded: {unused}" if unused else "the file reports no quantity"

    @classmethod
    def of(cls, result: ParseResult, position: str = "line") -> ParsedFile:
        return cls({result.record_type: result}, position=position)

    @property
    def rows_parsed(self) -> int:
        return sum(result.rows_parsed for result in self.results.values())

    @property
    def rows_rejected(self) -> int:
        return sum(result.rows_rejected for result in self.results.values())


def typed_series(canonical: str, values: np.ndarray | Sequence) -> pd.Series:
    """A canonical column with the dtype every parser gives it (text stays Python objects: cheap to load)."""
    if canonical in DATE_COLUMNS:
        return pd.Series(values, dtype="datetime64[s]", copy=False)
    if canonical in QUANTITY_COLUMNS:
        return pd.Series(values, dtype="float64", copy=False)
    if canonical in FLAG_COLUMNS:
        if isinstance(values, pd.arrays.BooleanArray):
            return pd.Series(values, copy=False)
        return pd.Series(values, dtype="boolean")
    if canonical == "source_line":
        return pd.Series(values, dtype="int64", copy=False)
    if canonical == "merged_lines":
        return pd.Series(values, dtype="Int64")
    return pd.Series(values, dtype=object, copy=False)


def rejects_frame(
    record_type: str,
    rejects: Iterable[tuple[int, str, str]],
    partner_id: str,
    source_file_id: str,
) -> pd.DataFrame:
    """Rejects as ``REJECT_COLUMNS``, ordered by line: each is (line, reason, raw record)."""
    listed = list(rejects)
    count = len(listed)
    frame = pd.DataFrame(
        {
            "source_file_id": pd.Series([source_file_id] * count, dtype=object),
            "partner_id": pd.Series([partner_id] * count, dtype=object),
            "record_type": pd.Series([record_type] * count, dtype=object),
            "source_line": pd.Series([line for line, _, _ in listed], dtype="int64"),
            "reason": pd.Series([reason for _, reason, _ in listed], dtype=object),
            "raw_record": pd.Series([raw for _, _, raw in listed], dtype=object),
        },
        columns=list(REJECT_COLUMNS),
    )
    return frame.sort_values("source_line", kind="stable").reset_index(drop=True)


def result_from_columns(
    record_type: str,
    columns: Mapping[str, np.ndarray],
    rejects: Iterable[tuple[int, str, str]],
    partner_id: str,
    source_file_id: str,
    *,
    constants: Mapping[str, object] | None = None,
    default_currency: str | None = None,
) -> ParseResult:
    """Rows already assembled column by column (by the EDI parsers) as a typed :class:`ParseResult`.

    ``columns`` maps canonical columns to arrays of one length (dates as ``datetime64[D]``, quantities as floats
    with NaN for null, text as objects) and must hold ``source_line``; columns it leaves out take the spec's
    constant, the partner's currency or the canonical default.
    """
    constants = constants or {}
    series: dict[str, pd.Series] = {}
    count = len(columns["source_line"])
    for canonical in RAW_FEED_COLUMNS[record_type]:
        if canonical in columns:
            values: np.ndarray = columns[canonical]
        else:
            fallback = {"partner_id": partner_id, "source_file_id": source_file_id}.get(canonical)
            if canonical not in ("partner_id", "source_file_id"):
                fallback = default_value(canonical, constants, default_currency)
            if canonical in DATE_COLUMNS:
                fallback = np.datetime64(fallback, "D") if fallback is not None else np.datetime64("NaT")
                values = np.full(count, fallback, dtype="datetime64[D]")
            elif canonical in QUANTITY_COLUMNS:
                values = np.full(count, np.nan if fallback is None else float(fallback))
            else:
                values = np.empty(count, dtype=object)
                values.fill(fallback)  # one object for every row (``np.full`` would copy a string per row)
        series[canonical] = typed_series(canonical, values)
    # Each column stays its own block: consolidating would copy every column at the file's peak.
    rows = pd.DataFrame(series, columns=list(RAW_FEED_COLUMNS[record_type]), copy=False)
    return ParseResult(record_type, rows, rejects_frame(record_type, rejects, partner_id, source_file_id))
