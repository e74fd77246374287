"""What became of each interchange of an EDI file: loaded, partly loaded or refused, with its reason and counts.

A file may carry several interchanges, each with its own envelope and controls. One whose envelope is broken
(ISA/IEA, GS/GE, UNB/UNZ controls) is refused whole; within a good one, each transaction set or message stands on
its own, as the acknowledgments report it (X12 AK5/IK5, CONTRL UCM): a rejected set is left out, its
quantities counted as rejected, and the sets beside it load. The file is refused only when nothing in it can
load. :func:`interchange_outcomes` gives the outcome of each interchange, with the first real defect by segment
number and where its quantity elements went (from the tallies the parser keeps, see ``measures.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from assets.feeds.parsers.interchange import Interchange, TransactionSet
from assets.feeds.parsers.measures import MeasureRows

LOADED, PARTLY_LOADED, REFUSED = "loaded", "partly_loaded", "refused"
INTERCHANGE_OUTCOMES = (LOADED, PARTLY_LOADED, REFUSED)


@dataclass(frozen=True)
class InterchangeOutcome:
    """One interchange of a delivered file, as the feed ledger's interchange table records it."""

    index: int  # 1-based position in the file
    standard: str  # x12 | edifact
    control_number: str
    sender: str
    receiver: str
    version: str  # GS08 (004010, 005010) or the UNB syntax (UNOC:3)
    test: bool
    sets: int
    sets_rejected: int
    outcome: str  # loaded | partly_loaded | refused
    reason: str | None  # "segment 41: SE01 says 9 segments ..." for the first fatal defect, else None
    quantities_reported: int | None = None
    quantities_loaded: int | None = None
    quantities_rejected: int | None = None
    quantities_unused: int | None = None


def is_usable(interchange: Interchange) -> bool:
    """Whether any set of the interchange can load: its envelope is sound and one of its sets is."""
    return not interchange.rejected and any(not item.rejected for item in interchange.sets)


def interchange_outcomes(
    interchanges: list[Interchange], tallies: Mapping[int, Counter] | None = None
) -> list[InterchangeOutcome]:
    """The outcome of each interchange; ``tallies`` (index -> reported/loaded/rejected/unused counts), when the
    file was read, gives its quantity counts (a refused file's are left unknown)."""
    outcomes = []
    for interchange in interchanges:
        rejected_sets = sum(1 for item in interchange.sets if item.rejected or interchange.rejected)
        if not is_usable(interchange):
            outcome = REFUSED
        elif rejected_sets:
            outcome = PARTLY_LOADED
        else:
            outcome = LOADED
        first = interchange.first_fatal()
        reason = f"segment {first.segment}: {first.reason}" if first is not None else None
        if reason is None and not interchange.sets:
            reason = "the interchange holds no transaction set or message"
        counts: dict[str, int | None] = dict.fromkeys(("reported", "loaded", "rejected", "unused"))
        if tallies is not None:
            tally = tallies.get(interchange.index, Counter())
            counts = {name: tally.get(name, 0) for name in counts}
        outcomes.append(
            InterchangeOutcome(
                interchange.index,
                interchange.standard,
                interchange.control_number,
                interchange.sender,
                interchange.receiver,
                interchange.group_version or interchange.version,
                interchange.test,
                len(interchange.sets),
                rejected_sets,
                outcome,
                reason,
                *(counts[name] for name in ("reported", "loaded", "rejected", "unused")),
            )
        )
    return outcomes


def read_set(
    rows: MeasureRows,
    interchange: Interchange,
    transaction: TransactionSet,
    read: Callable[[], object],
    quantities: Callable[[], list[float | None]],
) -> None:
    """Read one transaction set or message into ``rows`` (``read``), on its own.

    A set that is unusable, or turns out so while it is read, leaves no row behind: whatever it added is taken
    out again, and its quantity elements (``quantities``) are counted as rejected, in the file's account and in
    its interchange's tally.
    """
    account = rows.account
    rows.interchange = interchange.index
    if not interchange.rejected and not transaction.rejected:
        mark = rows.checkpoint()
        reported, unused = account.elements, account.unused_elements
        read()
        if not transaction.rejected:
            rows.tally(interchange.index, reported=account.elements - reported, unused=account.unused_elements - unused)
            return
        rows.rollback(mark)
    values = quantities()
    for value in values:
        account.seen(value)
    account.reject(values)
    rows.tally(interchange.index, reported=len(values), rejected=len(values))
