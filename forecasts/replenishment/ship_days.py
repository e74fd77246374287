"""Ship-day lists as agreements write them (``'Mon,Wed,Fri'``), read into weekday numbers and written back."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def parse_ship_days(ship_days: str | None) -> frozenset[int]:
    """Weekday numbers (Monday = 0) of a ship-day list such as ``'Mon,Wed,Fri'``; every day when empty.

    Names are the three-letter English abbreviations in any case; anything else is an error rather than a
    guess, since a wrong ship day moves every shipment of the lane.
    """
    if ship_days is None or pd.isna(ship_days) or not str(ship_days).strip():
        return frozenset(range(7))
    numbers = {name.lower(): number for number, name in enumerate(WEEKDAY_NAMES)}
    names = [part.strip().lower() for part in str(ship_days).split(",")]
    unknown = [name for name in names if name not in numbers]
    if unknown:
        raise ValueError(f"unknown ship days {unknown} in {ship_days!r}; expected e.g. 'Mon,Wed,Fri'")
    return frozenset(numbers[name] for name in names)


def format_ship_days(days: Iterable[int]) -> str:
    """Weekday numbers written as an agreement writes them, Monday first: ``'Mon,Wed,Fri'``."""
    return ",".join(WEEKDAY_NAMES[day] for day in sorted(days))
