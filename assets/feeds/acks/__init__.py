"""Acknowledgments of received interchanges, as partners expect them back: pure text builders, no I/O.

X12: a TA1 interchange acknowledgment when the interchange envelope itself is rejected, else a 997 functional
acknowledgment (version 004010 and earlier) or a 999 implementation acknowledgment (005010 and later), one
transaction set per functional group received, with AK2/IK3/IK4 detail down to segment and element and the
standard's codes. EDIFACT: a CONTRL syntax and service report (UCI for the interchange, UCM per message, UCS/UCD
for segment and element errors with 0085 codes). Writing files and numbering our own interchanges is the
loader's business (``loading/acknowledgments.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from assets.feeds.acks.contrl import contrl
from assets.feeds.acks.x12 import x12_acknowledgment
from assets.feeds.parsers.interchange import Interchange


@dataclass(frozen=True)
class Acknowledgment:
    """One acknowledgment interchange: its kind (TA1, 997, 999, CONTRL), status and text."""

    kind: str
    status: str  # accepted | accepted_with_errors | rejected
    text: str


def acknowledge(interchange: Interchange, control_number: int, now: datetime, *, refused: bool) -> Acknowledgment:
    """The acknowledgment of one received interchange, numbered ``control_number`` by us.

    ``refused``: the file the interchange came in was not loaded, so nothing in it is reported accepted.
    """
    if interchange.standard == "x12":
        kind, status, text = x12_acknowledgment(interchange, control_number, now, refused=refused)
    else:
        kind, status, text = contrl(interchange, control_number, now, refused=refused)
    return Acknowledgment(kind, status, text)


__all__ = ["Acknowledgment", "acknowledge"]
