"""The row rules of a promotion calendar, beyond what each cell's own rule checks.

A promotion row is usable when its type is one the partner's file spec names (``promo_types``, or a canonical
type itself), it does not end before it starts, and a discount says how deep it is, from 0 to 100 %; a display
or feature may leave the depth blank but not give a negative one. Each failure becomes a reject reason in plain
words, and the type is stored by its canonical name.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from assets.feeds.contracts import PROMOTION_TYPES
from assets.feeds.partner_config import FileSpec

MAX_DISCOUNT_PERCENT = 100.0


def judge_promotions(
    values: dict[str, np.ndarray], spec: FileSpec, reject: Callable[[np.ndarray, np.ndarray | str], None]
) -> None:
    """Map ``promo_type`` to its canonical name in ``values`` and ``reject(mask, reasons)`` the rows breaking a rule."""
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

    depth = np.asarray(values["depth"], dtype=float)
    discount = values["promo_type"] == "discount"
    reject(discount & np.isnan(depth), "a discount needs its depth in percent")
    out_of_range = discount & ((depth < 0) | (depth > MAX_DISCOUNT_PERCENT))
    reject(out_of_range, f"discount depth outside 0-{MAX_DISCOUNT_PERCENT:g} %")
    reject(~discount & (depth < 0), "negative promotion depth")
