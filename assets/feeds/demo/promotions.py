"""The partners' promotion calendars: the promotions their shoppers' demand really has, announced weeks ahead.

Every ``CALENDAR_EVERY_DAYS`` the partner sends a calendar of the promotions starting three to seven weeks later
(the first one, at onboarding, also lists every earlier promotion). Plans change: some promotions are first
announced with other dates or another depth and put right by a correction file ten days before they start, and some
announced promotions are called off by one. Every promotion the demand has is, by the last file, stated as it
really runs (chain-wide, so the store column is blank); a cancelled one never ran.

The draws come from a random stream of their own, so adding calendars leaves every other demo file as it was.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from assets.feeds.demo.simulation import PartnerData
from assets.feeds.demo.tabular import append_row, titled_sheet, workbook_bytes
from assets.feeds.partner_config import FileSpec

PROMOTION_STREAM = 5  # partner_rng stream of the calendars (0-4 simulate the partner, 99 its deliveries)
TIMING_STREAM = 97  # and of the calendars' delivery times, so a later calendar never moves an earlier one's
CALENDAR_EVERY_DAYS = 28
CALENDAR_ISSUES = 6  # calendars sent in the last half year; the first also states the history
ANNOUNCED_DAYS = (21, 49)  # a calendar lists the promotions starting this many days after it is sent
CORRECTION_DAYS = 10  # a revision or cancellation arrives this many days before the promotion starts
REVISED_SHARE = 0.2
CANCELLED_PER_ISSUE = 0.6  # chance a calendar announces a promotion that is later called off
TYPE_SHARES = {"discount": 0.7, "display": 0.15, "feature": 0.15}
DISCOUNT_DEPTHS = (10, 15, 20, 25, 30, 40)


@dataclass(frozen=True)
class CalendarFile:
    """One promotion calendar the partner sends: its name token, delivery time and statements."""

    token: str
    day: date
    delivered: float
    statements: pd.DataFrame  # canonical promotion columns plus ``status`` (planned | revised | cancelled)


def promotion_windows(partner: PartnerData) -> pd.DataFrame:
    """The promotions the partner's demand has: one row per product and contiguous run of promotion days."""
    rows = []
    days = partner.promotion_days
    dates = partner.calendar
    for product, ref in enumerate(partner.items["partner_item_ref"]):
        flags = np.concatenate([[False], days[product], [False]]).astype(np.int8)
        starts = np.flatnonzero(np.diff(flags) == 1)
        ends = np.flatnonzero(np.diff(flags) == -1) - 1
        rows += [
            (ref, product, dates[start].date(), dates[end].date()) for start, end in zip(starts, ends, strict=True)
        ]
    frame = pd.DataFrame(rows, columns=["product_ref", "product", "promo_start", "promo_end"])
    return frame.sort_values(["promo_start", "product_ref"], kind="stable").reset_index(drop=True)


def calendar_files(
    partner: PartnerData,
    start: date,
    end: date,
    rng: np.random.Generator,
    anchor: date | None = None,
    timing: np.random.Generator | None = None,
) -> list[CalendarFile]:
    """The calendars and corrections the partner sent up to ``end``, in delivery order.

    The calendars are laid out from ``anchor``, the landing's first end (default ``end``): the last half year's
    before it, then one every ``CALENDAR_EVERY_DAYS`` up to ``end``. What a calendar states never depends on
    ``end`` (a revision the first end would not have seen is left out of the calendars up to it, as before), and a
    correction is sent once its day has come, so a later end only adds files. Delivery times come from ``timing``
    (default ``rng``), in file order.
    """
    anchor = anchor or end
    timing = timing or rng
    last_issue = anchor - timedelta(days=anchor.weekday())  # calendars go out on Mondays
    issues = [last_issue - timedelta(days=CALENDAR_EVERY_DAYS * k) for k in reversed(range(CALENDAR_ISSUES))]
    issues = [issue for issue in issues if issue >= start]
    while issues and issues[-1] + timedelta(days=CALENDAR_EVERY_DAYS) <= end:
        issues.append(issues[-1] + timedelta(days=CALENDAR_EVERY_DAYS))
    if not issues:
        return []
    windows = promotion_windows(partner)
    prefix = str(partner.config.demo.get("promo_id_prefix", "P"))
    statements: dict[date, list[dict]] = {issue: [] for issue in issues}
    corrections: dict[date, list[dict]] = {}
    number = 0
    for position, issue in enumerate(issues):
        first, last = issue + timedelta(days=ANNOUNCED_DAYS[0]), issue + timedelta(days=ANNOUNCED_DAYS[1])
        announced = windows[(windows["promo_start"] < last) & ((windows["promo_start"] >= first) | (position == 0))]
        for window in announced.itertuples():
            number += 1
            true = _statement(f"{prefix}{number:05d}", window.product_ref, window.promo_start, window.promo_end, rng)
            correction_day = window.promo_start - timedelta(days=CORRECTION_DAYS)
            seen = correction_day <= anchor or issue > anchor
            if window.promo_start >= first and seen and rng.random() < REVISED_SHARE:
                statements[issue].append(_first_plan(true, rng))
                corrections.setdefault(correction_day, []).append(true | {"status": "revised"})
            else:
                statements[issue].append(true)
        phantom = _phantom(partner, windows, first, f"{prefix}{number + 1:05d}", rng)
        called_off = phantom["promo_start"] - timedelta(days=CORRECTION_DAYS) if phantom is not None else None
        if phantom is not None and (called_off <= anchor or issue > anchor):
            number += 1
            statements[issue].append(phantom)
            corrections.setdefault(called_off, []).append(phantom | {"cancelled": True, "status": "cancelled"})
    # A month without promotions to announce sends no calendar.
    files = [CalendarFile(f"{day:%Y%m%d}", day, 0.0, _frame(rows)) for day, rows in statements.items() if rows]
    files += [
        CalendarFile(f"{day:%Y%m%d}_2", day, 0.0, _frame(rows))
        for day, rows in sorted(corrections.items())
        if day <= end
    ]
    window = partner.config.demo.get("delivery_window") or ["01:00", "05:00"]
    earliest, latest = (int(text[:2]) * 60 + int(text[3:5]) for text in window)
    zone = ZoneInfo(partner.config.timezone)
    timed = []
    for item in sorted(files, key=lambda item: item.token):
        minutes = int(timing.integers(earliest, latest + 1)) + (6 * 60 if item.token.endswith("_2") else 0)
        moment = datetime.combine(item.day, time(0, 0), tzinfo=zone) + timedelta(minutes=minutes)
        timed.append(CalendarFile(item.token, item.day, moment.timestamp(), item.statements))
    return timed


def _statement(promo_id: str, ref: str, first: date, last: date, rng: np.random.Generator) -> dict:
    promo_type = str(rng.choice(list(TYPE_SHARES), p=list(TYPE_SHARES.values())))
    depth = float(rng.choice(DISCOUNT_DEPTHS)) if promo_type == "discount" else np.nan
    return {
        "promo_id": promo_id,
        "location_id": "",
        "product_ref": ref,
        "promo_start": first,
        "promo_end": last,
        "promo_type": promo_type,
        "depth": depth,
        "cancelled": False,
        "status": "planned",
    }


def _first_plan(true: dict, rng: np.random.Generator) -> dict:
    """What the partner first announced for a promotion it later revised: a week off, or another depth."""
    if true["promo_type"] == "discount" and rng.random() < 0.5:
        other = [depth for depth in DISCOUNT_DEPTHS if depth != true["depth"]]
        return true | {"depth": float(rng.choice(other))}
    shift = timedelta(days=int(rng.choice([-7, 7])))
    return true | {"promo_start": true["promo_start"] + shift, "promo_end": true["promo_end"] + shift}


def _phantom(
    partner: PartnerData, windows: pd.DataFrame, first: date, promo_id: str, rng: np.random.Generator
) -> dict | None:
    """A promotion announced for a week when the product has none, to be called off later (or None)."""
    if rng.random() >= CANCELLED_PER_ISSUE:
        return None
    promoted = sorted(set(windows["product"]))
    if not promoted:
        return None
    product = int(rng.choice(promoted))
    promo_start = first + timedelta(days=int(rng.integers(0, ANNOUNCED_DAYS[1] - ANNOUNCED_DAYS[0])))
    promo_end = promo_start + timedelta(days=6)
    own = windows[windows["product"] == product]
    margin = timedelta(days=14)
    if ((own["promo_start"] <= promo_end + margin) & (own["promo_end"] >= promo_start - margin)).any():
        return None
    ref = partner.items["partner_item_ref"].iloc[product]
    return _statement(promo_id, ref, promo_start, promo_end, rng) | {"promo_type": "discount", "depth": 20.0}


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).sort_values(["promo_start", "promo_id"], kind="stable").reset_index(drop=True)


def render_calendar(statements: pd.DataFrame, spec: FileSpec, line_ending: str, title: str, day: date) -> bytes:
    """A calendar in the partner's format: its headers, words for types and status, dates and decimal mark."""
    cells = _partner_cells(statements, spec)
    headers = list(spec.columns.values())
    if spec.format == "xlsx":
        return _workbook(cells, headers, spec, title, day)
    for canonical in ("promo_start", "promo_end"):
        cells[canonical] = [value.strftime(spec.date_format) for value in cells[canonical]]
    cells["depth"] = ["" if np.isnan(value) else f"{value:g}".replace(".", spec.decimal) for value in cells["depth"]]
    frame = pd.DataFrame({header: cells[canonical] for canonical, header in spec.columns.items()})
    buffer = io.StringIO()
    frame.to_csv(buffer, sep=spec.delimiter, index=False, lineterminator=line_ending)
    return buffer.getvalue().encode(spec.encoding)


def _partner_cells(statements: pd.DataFrame, spec: FileSpec) -> dict[str, list]:
    """Each canonical column's cells as the partner writes them (dates and depths still typed)."""
    words: dict[str, str] = {}
    for word, promo_type in spec.promo_types.items():
        words.setdefault(promo_type, word)
    status = {"planned": spec.false_values[0], "revised": spec.false_values[-1], "cancelled": spec.true_values[0]}
    return {
        "promo_id": statements["promo_id"].tolist(),
        "location_id": statements["location_id"].tolist(),
        "product_ref": statements["product_ref"].tolist(),
        "promo_start": list(statements["promo_start"]),
        "promo_end": list(statements["promo_end"]),
        "promo_type": [words.get(kind, kind) for kind in statements["promo_type"]],
        "depth": statements["depth"].astype(float).tolist(),
        "cancelled": [status[kind] for kind in statements["status"]],
    }


def _workbook(cells: dict[str, list], headers: list[str], spec: FileSpec, title: str, day: date) -> bytes:
    book, sheet = titled_sheet(spec, title, day)
    sheet.append(headers)
    for index in range(len(cells["promo_id"])):
        row: list[object] = []
        for canonical in spec.columns:
            value = cells[canonical][index]
            if canonical in ("promo_start", "promo_end"):
                row.append(datetime.combine(value, time(0, 0)))
            elif canonical == "depth":
                row.append(None if np.isnan(value) else value)
            else:
                row.append(value or None)
        append_row(sheet, row)
    return workbook_bytes(book, day)
