"""Series frequencies: the period codes a forecast accepts and how dates map onto periods.

Days and weeks have a fixed length; a month does not, so monthly periods are calendar months, each dated by its
first day (a monthly row may carry any date of its month). Dates travel as day numbers since 1970-01-01.
"""

from __future__ import annotations

import numpy as np

DAILY = "D"
WEEKLY = "W"
MONTHLY = "M"
FREQUENCIES = (DAILY, WEEKLY, MONTHLY)
DAYS_PER_PERIOD = {DAILY: 1, WEEKLY: 7}  # fixed-length periods only


def month_numbers(days: np.ndarray) -> np.ndarray:
    """Months since January 1970 of each day number."""
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def month_starts(months: np.ndarray) -> np.ndarray:
    """Day number of the first day of each month number."""
    return np.asarray(months, dtype=np.int64).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def period_positions(days: np.ndarray, freq: str) -> np.ndarray:
    """Each day's period, counted from the first day's period (``days`` sorted, first element the earliest).

    Weekly days must share a weekday; monthly ones may fall anywhere in their month.
    """
    days = np.asarray(days, dtype=np.int64)
    if freq == MONTHLY:
        return month_numbers(days) - month_numbers(days[:1])[0]
    step = DAYS_PER_PERIOD[freq]
    offsets = days - days[0]
    if np.any(offsets % step):
        raise ValueError("weekly history must have every date on the same weekday")
    return offsets // step


def period_days(first_day: int, positions: np.ndarray, freq: str) -> np.ndarray:
    """The day number that dates each period ``positions`` after the one holding ``first_day``.

    Daily and weekly periods are dated from ``first_day`` itself (weekly ones keep its weekday); months by their
    first day.
    """
    positions = np.asarray(positions, dtype=np.int64)
    if freq == MONTHLY:
        return month_starts(month_numbers(np.array([first_day]))[0] + positions)
    return int(first_day) + DAYS_PER_PERIOD[freq] * positions


def values_on_days(target_days: np.ndarray, days: np.ndarray, values: np.ndarray, freq: str) -> np.ndarray:
    """The row of ``values`` given for each of ``target_days``: ``days`` are the rows' day numbers, in any order (a
    monthly row may carry any day of its month and stands for the month's first day); where a day has several rows
    the last counts. Raises ValueError when a target day has no row, or a NaN in it.

    Plain numpy on one series' arrays: the engine runs it once per series, so it costs microseconds, not the
    milliseconds of a pandas reindex.
    """
    target_days = np.asarray(target_days, dtype=np.int64)
    days = np.asarray(days, dtype=np.int64)
    values = np.asarray(values, dtype=float)
    values = values[:, None] if values.ndim == 1 else values
    if freq == MONTHLY:
        days = month_starts(month_numbers(days))
    # A stable sort keeps a day's rows in their order, so the rightmost match is the day's last row.
    order = np.argsort(days, kind="stable")
    ordered = days[order]
    at = np.searchsorted(ordered, target_days, side="right") - 1
    found = at >= 0
    found[found] = ordered[at[found]] == target_days[found]
    aligned = np.full((target_days.size, values.shape[1]), np.nan)
    aligned[found] = values[order[at[found]]]
    missing = np.isnan(aligned).any(axis=1)
    if missing.any():
        first = np.datetime64(int(target_days[missing].min()), "D")
        raise ValueError(f"the regressors have no values for {int(missing.sum())} forecast dates, e.g. {first}")
    return aligned
