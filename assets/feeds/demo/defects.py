"""The imperfections real feeds have, planted on fixed days so the ledger, quarantine and quality layer find them.

File defects: a late delivery, a file in an encoding the partner does not declare, a duplicate resend, an empty
file, a truncated interchange, a reused control number, a wrong segment count, a corrected resend. Row defects:
negative stock, an unknown location, unknown items, an unknown store, an item number with a bad check digit.
Which ones a partner has is its config's ``demo.imperfections``; every random draw comes from the writer's stream.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from assets.feeds.demo.world import UPC_COMPANY
from assets.feeds.identity import gs1_check_digit
from assets.feeds.partner_config import PartnerConfig

IMPERFECTIONS = (
    "duplicate_file",
    "late_file",
    "undecodable_file",
    "negative_on_hand",
    "unknown_location",
    "unknown_items",
    "truncated_interchange",
    "wrong_segment_count",
    "unknown_store",
    "control_number_reuse",
    "bad_check_digit",
    "empty_file",
    "corrected_resend",
)

# Which day of the daily window carries which imperfection (days before the end date).
UNDECODABLE_DAY = 5
DUPLICATE_DAY = 6
LATE_DAY = 4
UNKNOWN_LOCATION_DAY = 3
NEGATIVE_STOCK_DAYS = (12, 9, 6)
UNKNOWN_ITEM_DAYS = (11, 8, 4, 2)
TRUNCATED_DAY = 9
REUSED_CONTROL_DAY = 11
BAD_CHECK_DIGIT_DAY = 5
EMPTY_FILE_DAY = 2
CORRECTED_DAY = 3
WRONG_COUNT_WEEK = 1  # which weekly 852 (0 = the first) is sent with wrong SE01 counts first
UNDECODABLE_ENCODING = "utf-16"  # what the undecodable file is written in instead of the spec's encoding

PLANTED_DAYS = {
    "undecodable_file": (UNDECODABLE_DAY,),
    "duplicate_file": (DUPLICATE_DAY,),
    "late_file": (LATE_DAY,),
    "unknown_location": (UNKNOWN_LOCATION_DAY,),
    "negative_on_hand": NEGATIVE_STOCK_DAYS,
    "unknown_items": UNKNOWN_ITEM_DAYS,
    "truncated_interchange": (TRUNCATED_DAY,),
    "control_number_reuse": (REUSED_CONTROL_DAY,),
    "bad_check_digit": (BAD_CHECK_DIGIT_DAY,),
    "empty_file": (EMPTY_FILE_DAY,),
    "corrected_resend": (CORRECTED_DAY,),
}


class Defects:
    """The imperfections one partner's config asks for, the damage they do to its rows, and what was injected."""

    def __init__(self, config: PartnerConfig, ref_type: str, rng: np.random.Generator) -> None:
        self.config = config
        self.ref_type = ref_type
        self.rng = rng
        self.imperfections = set(config.demo.get("imperfections") or [])
        unknown = self.imperfections - set(IMPERFECTIONS)
        if unknown:
            raise ValueError(
                f"{config.source_path}: demo.imperfections: unknown {sorted(unknown)} "
                f"(expected any of {', '.join(IMPERFECTIONS)})"
            )
        self.injected: dict[str, int] = {}

    def planted(self, imperfection: str, offset: int) -> bool:
        """Whether the partner has this imperfection on the day ``offset`` days before the end date."""
        return imperfection in self.imperfections and offset in PLANTED_DAYS[imperfection]

    def wrong_count_in(self, week: int) -> bool:
        """Whether the weekly 852 of ``week`` (0 = the first) is first sent with wrong SE01 counts."""
        return "wrong_segment_count" in self.imperfections and week == WRONG_COUNT_WEEK

    def unknown_store_in(self, week: int, weeks: int) -> str | None:
        """The store id the last of ``weeks`` weekly 852s reports sales for although the supplier does not know it."""
        if "unknown_store" in self.imperfections and week == weeks - 1:
            return str((self.config.demo.get("unknown_location") or {"id": "9999"})["id"])
        return None

    def count(self, name: str, count: int = 1) -> None:
        self.injected[name] = self.injected.get(name, 0) + count

    def damage_stock(self, rows: pd.DataFrame, offset: int) -> pd.DataFrame:
        """A day's stock rows with a negative on-hand count and an unknown location's rows, where planted."""
        if self.planted("negative_on_hand", offset) and len(rows):
            victim = rows.index[int(self.rng.integers(0, len(rows)))]
            rows.loc[victim, "on_hand_qty"] = -float(self.rng.integers(1, 5))
            self.count("negative_on_hand")
        if self.planted("unknown_location", offset) and len(rows):
            store = self.config.demo.get("unknown_location") or {"id": "X999"}
            first_location = rows["location_id"].iloc[0]
            extra = rows[rows["location_id"] == first_location].copy()
            extra["location_id"] = str(store["id"])
            extra["on_hand_qty"] = self.rng.integers(0, 40, len(extra)).astype(float)
            rows = pd.concat([rows, extra], ignore_index=True)
            self.count("unknown_location_rows", len(extra))
        return rows

    def damage_sales(self, rows: pd.DataFrame, offset: int) -> pd.DataFrame:
        """A day's sales rows with a sale of an item the supplier does not make, where planted."""
        if self.planted("unknown_items", offset) and len(rows):
            template = rows.iloc[[int(self.rng.integers(0, len(rows)))]].copy()
            number = 990001 + UNKNOWN_ITEM_DAYS.index(offset) % 3
            if self.ref_type == "sku":
                template["product_ref"] = f"{self.config.demo.get('sku_prefix', 'SKU-')}{number:06d}"
            else:
                body = f"0{UPC_COMPANY}{number % 100000:05d}"
                template["product_ref"] = ("0" if self.ref_type == "ean" else "") + body + gs1_check_digit(body)
            template["units_sold"] = float(self.rng.integers(1, 6))
            template["units_returned"] = 0.0
            template["promo_flag"] = False
            rows = pd.concat([rows, template], ignore_index=True)
            self.count("unknown_item_rows")
        return rows

    def mistype_item_number(self, rows: pd.DataFrame) -> pd.DataFrame:
        """A keying slip in one item number; chosen on a line without sales so the truth loses nothing."""
        quiet = rows.index[(rows["units_sold"] == 0) & (rows["units_returned"] == 0)]
        victim = quiet[0] if len(quiet) else rows.index[0]
        rows = rows.copy()
        rows["product_ref"] = rows["product_ref"].astype(object)
        ref = str(rows.loc[victim, "product_ref"])
        rows.loc[victim, "product_ref"] = ref[:-1] + str((int(ref[-1]) + 1) % 10)
        self.count("bad_check_digit_rows")
        return rows

    def miscount_line(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The day's sales with one line overcounted by two, as a first report the partner later corrects."""
        wrong = rows.copy()
        victim = wrong.index[int(self.rng.integers(0, len(wrong)))]
        wrong.loc[victim, "units_sold"] = wrong.loc[victim, "units_sold"] + 2
        return wrong


def truncated(content: bytes) -> bytes:
    """The first 60% of a file, as a transfer that broke off leaves it."""
    return content[: int(len(content) * 0.6)]


def wrong_se_counts(content: bytes) -> bytes:
    """The interchange with every SE01 one higher than the segments really sent (a translator bug): each set is
    rejected on its own, so nothing in the file can load and it is refused for the first."""
    return re.sub(rb"\nSE\*(\d+)\*", lambda match: b"\nSE*%d*" % (int(match[1]) + 1), content)
