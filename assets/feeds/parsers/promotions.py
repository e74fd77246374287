"""The row rules of a promotion calendar, beyond what each cell's own rule checks.

A promotion row is usable when its type is one the partner's file spec names (``promo_types``, or a canonical
type itself), it does not end before it starts, and a discount says how deep it is, from 0 to 100 %; a display
or feature may leave the depth blank but not give a negative one. A promotion also runs at most
:data:`MAX_PROMOTION_DAYS` days and starts within :data:`MAX_START_OFFSET_DAYS` days of the day its file arrived
(the file's modification time, as the ledger's ``received_at``): a mistyped year (``31.12.9999``) would otherwise
expand into millions of promotion days in ``marts.fct_promotion_days``. Each failure becomes a reject reason in
plain words, and the type is stored by its canonical name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from assets.feeds.contracts import PROMOTION_TYPES
from assets.feeds.partner_config import FileSpec

MAX_DISCOUNT_PERCENT = 100.0
# A quarter: the longest promotion a retail calendar plans; a longer one is a typing error, not a promotion.
MAX_PROMOTION_DAYS = 92
# A calendar announces weeks ahead and restates recent weeks; a start further off than a year is a typing error.
MAX_START_OFFSET_DAYS = 366


def arrival_day(path: Path) -> date:
    """The UTC day a file arrived: its modification time, which the ledger records as ``received_at``."""
    try:
        return datetime.fromtimestamp(Path(path).stat().st_mtime, UTC).date()
    except OSError:
        return datetime.now(UTC).date()


def judge_promotions(
    values: dict[str, np.ndarray],
    spec: FileSpec,
    reject: Callable[[np.ndarray, np.ndarray | str], None],
    arrived: date,
) -> None:
    """Map ``promo_type`` to its canonical name in ``values`` and ``reject(mask, reasons)`` the rows breaking a rule.

    ``arrived`` is the day the file arrived (:func:`arrival_day`), the day a start is judged against.
    """
    words = {promo_type: promo_type for promo_type in PROMOTION_TYPES}
    words |= {word.casefold(): promo_type for word, promo_type in spec.promo_types.items()}
    sent = values["promo_type"]
    known = np.array([words.get(str(text).strip().casefold()) if text else None for text in sent], dtype=object)
    unknown = np.array([value is None for value in known], dtype=bool) & (sent != "")
    if unknown.any():
        expected = ", ".join(dict.fromkeys([*PROMOTION_TYPES, *spec.promo_types]))
        named = [f"unknown promotion type '{text}' (expected one of {expected})" for text in sent[unknown]]
        reject(unknown, np.array(named, dtype=object))
    values["promo_type"] = np.where(unknown, sent, known)

    start, end = values["promo_start"], values["promo_end"]
    backwards = ~np.isnat(start) & ~np.isnat(end) & (end < start)
    reject(backwards, "promotion ends before it starts")
    days = (end - start).astype("timedelta64[D]").astype("int64") + 1
    too_long = ~np.isnat(start) & ~np.isnat(end) & ~backwards & (days > MAX_PROMOTION_DAYS)
    reject(too_long, f"promotion runs longer than {MAX_PROMOTION_DAYS} days (the longest a calendar may plan)")
    offset = np.abs((start - np.datetime64(arrived, "D")).astype("timedelta64[D]").astype("int64"))
    far = ~np.isnat(start) & (offset > MAX_START_OFFSET_DAYS)
    reject(far, f"promotion starts more than {MAX_START_OFFSET_DAYS} days from the day the file arrived")

    depth = np.asarray(values["depth"], dtype=float)
    discount = values["promo_type"] == "discount"
    reject(discount & np.isnan(depth), "a discount needs its depth in percent")
    out_of_range = discount & ((depth < 0) | (depth > MAX_DISCOUNT_PERCENT))
    reject(out_of_range, f"discount depth outside 0-{MAX_DISCOUNT_PERCENT:g} %")
    reject(~discount & (depth < 0), "negative promotion depth")
