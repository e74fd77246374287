"""X12 documents as a partner's EDI translator sends them: the weekly 852 product activity and the daily 846 stock.

One interchange per file (ISA/GS ... GE/IEA), segments ending ``~`` plus a newline, the supplier addressed by
``SUPPLIER_EDI_ID`` and the interchange control number given by the caller, who counts them as the translator does.
Version 004010 unless the caller asks for 005010 (then acknowledged by a 999, not a 997); an 846 may report some
items in cases (QTY03 ``CA``), which the warehouse turns into units through the case pack.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from assets.feeds.demo.world import SUPPLIER_EDI_ID


@dataclass(frozen=True)
class X12Partner:
    """What one partner's X12 documents say about the partner: who sends them and how it names items and stores."""

    sender: str  # ISA06/GS02 and the buyer's N1 code, at most 15 characters
    name: str
    timezone: str
    item_qualifier: str  # LIN qualifier of the partner's item refs: UP, EN or VN
    store_names: dict[str, str]


def product_activity_852(
    partner: X12Partner,
    totals: pd.DataFrame,
    closing: pd.DataFrame,
    week_start: date,
    week_end: date,
    delivered: float,
    control: int,
    extra_store: str | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[bytes, int]:
    """852 with the items split over two transaction sets, as large reports are.

    ``totals`` holds the week's measures and ``closing`` the week-end stock, both indexed by item ref and store.
    With ``extra_store``, every item also reports sales (drawn from ``rng``) for that store; returns the document and
    how many such rows it carries.
    """
    qualifier = partner.item_qualifier
    products = list(dict.fromkeys(totals.index.get_level_values(0)))
    halves = [products[: (len(products) + 1) // 2], products[(len(products) + 1) // 2 :]]
    extra_rows = 0
    sets = []
    for number, half in enumerate(halves, start=1):
        if not half:
            continue
        body = [
            f"XQ*H*{week_start:%Y%m%d}*{week_end:%Y%m%d}",
            f"N1*BY*{partner.name.upper()}*92*{partner.sender}",
        ]
        for product_ref in half:
            sold = totals.loc[product_ref]
            body.append(f"LIN**{qualifier}*{product_ref}")
            pairs = [(store, int(value)) for store, value in sold["units_sold"].items()]
            if extra_store is not None:
                pairs.append((extra_store, int(rng.integers(1, 6))))
                extra_rows += 1
            body += ["ZA*QS", *_sdq(pairs)]
            for code, measure in (("QU", "units_returned"), ("QR", "units_received"), ("QO", "units_out_of_stock")):
                reported = [(store, int(value)) for store, value in sold[measure].items() if value > 0]
                if reported:
                    body += [f"ZA*{code}", *_sdq(reported)]
            if product_ref in closing.index.get_level_values(0):
                on_hand = closing.loc[product_ref, "on_hand_qty"]
                body += ["ZA*QA", *_sdq([(store, int(value)) for store, value in on_hand.items()])]
        body.append(f"CTT*{len(half)}")
        sets.append(_transaction_set("852", number, body))
    return _interchange(partner, "PD", sets, delivered, control).encode("ascii"), extra_rows


def inventory_846(
    partner: X12Partner,
    rows: pd.DataFrame,
    business_day: date,
    delivered: float,
    control: int,
    *,
    version: str = "004010",
    in_cases: dict[tuple[str, str], int] | None = None,
) -> bytes:
    """846 with one transaction set per store: BIA date, N1 store, then LIN + QTY*33 per item.

    ``in_cases`` maps (item ref, store) to the case pack of the lines reported in cases (QTY*33*n*CA; the caller
    picks counts that are whole cases, or halves, quarters or eighths of one, so the text is exact).
    """
    in_cases = in_cases or {}
    qualifier = partner.item_qualifier
    sets = []
    for number, (store, store_rows) in enumerate(rows.groupby("location_id", sort=False), start=1):
        body = [
            f"BIA*00*SI*INV{business_day:%Y%m%d}{number:02d}*{business_day:%Y%m%d}",
            f"N1*ST*{partner.store_names.get(store, store)}*92*{store}",
        ]
        for product_ref, on_hand in zip(store_rows["product_ref"], store_rows["on_hand_qty"], strict=True):
            case_pack = in_cases.get((product_ref, store))
            quantity = f"{int(on_hand) / case_pack:g}*CA" if case_pack else f"{int(on_hand)}*EA"
            body += [f"LIN**{qualifier}*{product_ref}", f"QTY*33*{quantity}"]
        body.append(f"CTT*{len(store_rows)}")
        sets.append(_transaction_set("846", number, body))
    return _interchange(partner, "IB", sets, delivered, control, version).encode("ascii")


def _interchange(
    partner: X12Partner,
    functional_id: str,
    sets: list[list[str]],
    delivered: float,
    control: int,
    version: str = "004010",
) -> str:
    when = datetime.fromtimestamp(delivered, ZoneInfo(partner.timezone))
    sender = partner.sender
    # ISA11 is the repetition separator from 00402 on, the standards identifier U before.
    repetition = "^" if version >= "004020" else "U"
    segments = [
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{sender:<15}*ZZ*{SUPPLIER_EDI_ID:<15}*{when:%y%m%d}*{when:%H%M}*{repetition}*"
        f"{version[:5]}*{control:09d}*0*P*>",
        f"GS*{functional_id}*{sender}*{SUPPLIER_EDI_ID}*{when:%Y%m%d}*{when:%H%M}*{control}*X*{version}",
    ]
    for transaction in sets:
        segments += transaction
    segments += [f"GE*{len(sets)}*{control}", f"IEA*1*{control:09d}"]
    return "".join(segment + "~\n" for segment in segments)


def _sdq(pairs: list[tuple[str, int]]) -> list[str]:
    """SDQ segments (unit EA, stores assigned by the buyer: qualifier 92), at most ten store/quantity pairs each."""
    segments = []
    for start in range(0, len(pairs), 10):
        chunk = pairs[start : start + 10]
        segments.append("SDQ*EA*92*" + "*".join(f"{store}*{quantity}" for store, quantity in chunk))
    return segments


def _transaction_set(kind: str, number: int, body: list[str]) -> list[str]:
    control = f"{number:04d}"
    segments = [f"ST*{kind}*{control}", *body]
    return [*segments, f"SE*{len(segments) + 1}*{control}"]
