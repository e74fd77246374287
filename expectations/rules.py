"""Rules several suites share, written once so a threshold or a message means the same on every table."""

from __future__ import annotations

from datetime import date, datetime, time

import great_expectations.expectations as gxe


def end_of_business_date(as_of_date: date) -> datetime:
    """Dates are compared as timestamps; midnight of the business date is the latest day allowed."""
    return datetime.combine(as_of_date, time.min)


def filled(columns: list[str]) -> list[gxe.Expectation]:
    """Keys and quantities without which a row cannot be used: critical."""
    return [gxe.ExpectColumnValuesToNotBeNull(column=column, severity="critical") for column in columns]


def not_after_business_date(column: str, as_of_date: date, description: str) -> gxe.Expectation:
    """Nothing dated after the night's business date (a swapped day and month often looks so): critical."""
    return gxe.ExpectColumnValuesToBeBetween(
        column=column, max_value=end_of_business_date(as_of_date), severity="critical", description=description
    )


def non_negative(column: str, tolerated_share: float, noun: str) -> list[gxe.Expectation]:
    """A few negative values happen (corrections, phantom stock) and are a warning; more than the share blocks."""
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column=column,
            min_value=0,
            mostly=1 - tolerated_share,
            severity="critical",
            description=f"At most {tolerated_share:.0%} of {noun} negative.",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column=column, min_value=0, severity="warning", description=f"No negative {noun}."
        ),
    ]
