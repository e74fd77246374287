"""Volume rule: is a partner's feed on the business date in line with its usual day?

A file that suddenly holds half the stores, or units in cases instead of eaches, passes every row-level rule. So
the business date's volume is compared with the median of the partner's trailing days: `partner_daily_volume`
turns feed rows into one row per partner with `row_count_ratio` and `volume_ratio`, and `feed_volume_suite`
checks those ratios. A day without rows is volume 0, not a gap; a partner without enough history is not judged
(its ratios are null). Meant for daily feeds: a weekly feed's days are mostly empty, so its median is 0 and it
is not judged either.

A quiet night is judged per partner, never as a whole: a partner that usually sends and sent nothing for the
business date has a ratio of 0 and is held (a lost file), and a partner known to send this feed that sent nothing
in the whole window still gets its row (`days_with_rows` 0) and is held for it, instead of silently dropping out of
the night's checks. Whether holding every partner fails the run is the caller's decision (`assets/quality.py`:
it does not for this rule).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

import great_expectations as gx
import great_expectations.expectations as gxe
import numpy as np
import pandas as pd

SUITE_NAME = "feed_volume"
TRAILING_DAYS = 28
# Fewer trailing days than this with rows and the median says little about the partner's usual day.
MIN_TRAILING_DAYS_WITH_ROWS = 7

# The business date's volume against the trailing median: outside these bounds warns, outside the wider ones holds.
WARNING_BOUNDS = (0.5, 2.0)
ERROR_BOUNDS = (0.2, 5.0)

VOLUME_COLUMNS = [
    "partner_id",
    "volume_date",
    "days_with_rows",
    "row_count",
    "units",
    "trailing_days_with_rows",
    "trailing_median_row_count",
    "trailing_median_units",
    "row_count_ratio",
    "volume_ratio",
]


def partner_daily_volume(
    rows: pd.DataFrame,
    as_of_date: date,
    date_column: str,
    quantity_column: str | None = None,
    trailing_days: int = TRAILING_DAYS,
    expected_partners: Iterable[str] = (),
) -> pd.DataFrame:
    """One row per partner in `rows` or `expected_partners`: its rows and units on `as_of_date` against the median
    of the days before.

    `rows` are feed lines with `partner_id`, `date_column` and optionally `quantity_column` (units sold, on hand);
    without it `units` is the row count. The trailing window is the `trailing_days` days before the business date,
    from the partner's first day in `rows` on; lines outside it are ignored. An expected partner without a line in
    the window gets a row with no lines and no ratios (`days_with_rows` 0).
    """
    day = pd.Timestamp(as_of_date)
    dates = pd.to_datetime(rows[date_column]).dt.normalize().to_numpy() if len(rows) else np.array([], "M8[ns]")
    in_window = (dates >= (day - pd.Timedelta(days=trailing_days)).to_datetime64()) & (dates <= day.to_datetime64())
    per_partner = []
    if in_window.any():
        units = rows[quantity_column].to_numpy(dtype=float) if quantity_column else np.ones(len(rows))
        lines = pd.DataFrame(
            {"partner_id": rows["partner_id"].to_numpy()[in_window], "day": dates[in_window], "units": units[in_window]}
        )
        daily = lines.groupby(["partner_id", "day"]).agg(row_count=("units", "size"), units=("units", "sum"))
        per_partner = [_one_partner(partner, counts.droplevel(0), day) for partner, counts in daily.groupby(level=0)]
    seen = {row["partner_id"] for row in per_partner}
    per_partner += [_silent_partner(partner, day) for partner in sorted(set(expected_partners) - seen)]
    if not per_partner:
        return pd.DataFrame(columns=VOLUME_COLUMNS)
    return pd.DataFrame(per_partner, columns=VOLUME_COLUMNS).sort_values("partner_id").reset_index(drop=True)


def _silent_partner(partner_id: str, day: pd.Timestamp) -> dict:
    return {
        "partner_id": partner_id,
        "volume_date": day,
        "days_with_rows": 0,
        "row_count": 0,
        "units": 0.0,
        "trailing_days_with_rows": 0,
        "trailing_median_row_count": np.nan,
        "trailing_median_units": np.nan,
        "row_count_ratio": np.nan,
        "volume_ratio": np.nan,
    }


def _one_partner(partner_id: str, daily: pd.DataFrame, day: pd.Timestamp) -> dict:
    # Every day from the partner's first day in the window up to the business date; a day without rows is 0.
    calendar = pd.date_range(daily.index.min(), day, freq="D")
    filled = daily.reindex(calendar, fill_value=0)
    today = filled.loc[day]
    trailing = filled.loc[filled.index < day]
    judged = (trailing["row_count"] > 0).sum() >= MIN_TRAILING_DAYS_WITH_ROWS
    median_rows = float(trailing["row_count"].median()) if judged else np.nan
    median_units = float(trailing["units"].median()) if judged else np.nan
    return {
        "partner_id": partner_id,
        "volume_date": day,
        "days_with_rows": int((filled["row_count"] > 0).sum()),
        "row_count": int(today["row_count"]),
        "units": float(today["units"]),
        "trailing_days_with_rows": int((trailing["row_count"] > 0).sum()),
        "trailing_median_row_count": median_rows,
        "trailing_median_units": median_units,
        "row_count_ratio": _ratio(float(today["row_count"]), median_rows),
        "volume_ratio": _ratio(float(today["units"]), median_units),
    }


def _ratio(value: float, median: float) -> float:
    """value / median; null when the median is unknown or zero (nothing usual to compare with)."""
    return value / median if median and not np.isnan(median) else np.nan


def feed_volume_suite(as_of_date: date) -> gx.ExpectationSuite:
    """Critical rules block the partner's plan; warnings are recorded and shown."""
    day = datetime.combine(as_of_date, time.min)
    return gx.ExpectationSuite(
        name=SUITE_NAME,
        expectations=[
            gxe.ExpectColumnValuesToBeBetween(
                column="volume_date",
                min_value=day,
                max_value=day,
                severity="critical",
                description="The volume judged is the business date's.",
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="days_with_rows",
                min_value=1,
                severity="critical",
                description=f"The partner sent lines of this feed in the last {TRAILING_DAYS + 1} days: a partner "
                "that went silent has nothing current to forecast or plan from.",
            ),
            *[
                rule
                for column, what in (("row_count_ratio", "lines"), ("volume_ratio", "units"))
                for rule in (
                    gxe.ExpectColumnValuesToBeBetween(
                        column=column,
                        min_value=ERROR_BOUNDS[0],
                        max_value=ERROR_BOUNDS[1],
                        severity="critical",
                        description=f"The day's {what} within {ERROR_BOUNDS[0]:g}x-{ERROR_BOUNDS[1]:g}x the "
                        f"partner's trailing {TRAILING_DAYS}-day median: a lost file or a unit mix-up.",
                    ),
                    gxe.ExpectColumnValuesToBeBetween(
                        column=column,
                        min_value=WARNING_BOUNDS[0],
                        max_value=WARNING_BOUNDS[1],
                        severity="warning",
                        description=f"The day's {what} within {WARNING_BOUNDS[0]:g}x-{WARNING_BOUNDS[1]:g}x the "
                        f"partner's trailing {TRAILING_DAYS}-day median.",
                    ),
                )
            ],
        ],
    )
