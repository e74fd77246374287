"""EDIFACT documents as a partner's EDI translator sends them: INVRPT (stock) and SLSRPT (sales) per business day.

One interchange per file (UNA, UNB ... UNZ) with one message, segments ending ``'`` plus the partner's line ending,
encoded Latin-1, the supplier addressed by ``SUPPLIER_GLN`` and the control number given by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pandas as pd

from assets.feeds.demo.world import SUPPLIER_GLN


@dataclass(frozen=True)
class EdifactPartner:
    """What one partner's EDIFACT documents say about the partner: who sends them and how it names items."""

    partner_id: str  # its first two letters start the interchange reference
    name: str  # trading name in NAD+BY
    gln: str
    timezone: str
    item_qualifier: str  # item number type of the partner's item refs: UP, EN or VN
    line_ending: str


def inventory_report(
    partner: EdifactPartner, rows: pd.DataFrame, business_day: date, delivered: float, control: int
) -> bytes:
    """INVRPT: the day's on-hand stock per store (LOC) and item (LIN + QTY+145)."""
    body = _heading(partner, "35", business_day, delivered)
    body[2:2] = [f"DTM+90:{business_day:%Y%m%d}:102", f"DTM+91:{business_day:%Y%m%d}:102"]
    line = 0
    for store, store_rows in rows.groupby("location_id", sort=False):
        body.append(f"LOC+162+{_edifact_text(store)}::92")
        for product_ref, on_hand in zip(store_rows["product_ref"], store_rows["on_hand_qty"], strict=True):
            line += 1
            body += [f"LIN+{line}++{product_ref}:{partner.item_qualifier}", f"QTY+145:{int(on_hand)}:PCE"]
    body.append(f"CNT+2:{line}")
    return _interchange(partner, "INVRPT", "D:96A", body, delivered, control)


def sales_report(
    partner: EdifactPartner, rows: pd.DataFrame, business_day: date, delivered: float, control: int
) -> bytes:
    """SLSRPT: the day's units sold (QTY+153) and, where any, returned (QTY+61) per store and item."""
    body = _heading(partner, "73E::9", business_day, delivered)
    body[2:2] = [f"DTM+356:{business_day:%Y%m%d}:102", f"DTM+357:{business_day:%Y%m%d}:102"]
    line = 0
    for store, store_rows in rows.groupby("location_id", sort=False):
        body.append(f"LOC+162+{_edifact_text(store)}::92")
        for product_ref, sold, returned in zip(
            store_rows["product_ref"], store_rows["units_sold"], store_rows["units_returned"], strict=True
        ):
            line += 1
            body += [f"LIN+{line}++{product_ref}:{partner.item_qualifier}", f"QTY+153:{int(sold)}"]
            if returned > 0:
                body.append(f"QTY+61:{int(returned)}")
    body.append(f"CNT+2:{line}")
    return _interchange(partner, "SLSRPT", "D:01B", body, delivered, control)


def _interchange(
    partner: EdifactPartner, message: str, version: str, body: list[str], delivered: float, control: int
) -> bytes:
    when = datetime.fromtimestamp(delivered, ZoneInfo(partner.timezone))
    reference = f"{partner.partner_id[:2].upper()}{control:08d}"
    segments = [
        f"UNB+UNOC:3+{partner.gln}:14+{SUPPLIER_GLN}:14+{when:%y%m%d}:{when:%H%M}+{reference}++{message}",
        f"UNH+1+{message}:{version}:UN:EAN008",
        *body,
    ]
    segments.append(f"UNT+{len(segments)}+1")
    segments.append(f"UNZ+1+{reference}")
    line_ending = partner.line_ending
    return ("UNA:+.? '" + line_ending + "".join(f"{segment}'{line_ending}" for segment in segments)).encode("latin-1")


def _heading(partner: EdifactPartner, document: str, business_day: date, delivered: float) -> list[str]:
    when = datetime.fromtimestamp(delivered, ZoneInfo(partner.timezone))
    name = _edifact_text(partner.name)
    return [
        f"BGM+{document}+{business_day:%Y%m%d}+9",
        f"DTM+137:{when:%Y%m%d}:102",
        f"NAD+BY+{partner.gln}::9++{name}",
        f"NAD+SU+{SUPPLIER_GLN}::9",
    ]


def _edifact_text(text: str) -> str:
    """Free text with EDIFACT's service characters released (``?`` first, so releases are not doubled)."""
    for char in "?:+'":
        text = text.replace(char, "?" + char)
    return text
