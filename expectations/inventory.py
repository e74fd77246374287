"""Business rules for daily stock (`marts.fct_inventory_daily`): can the partner's on-hand be planned on?"""

from __future__ import annotations

from datetime import date, datetime, time

import great_expectations as gx
import great_expectations.expectations as gxe

SUITE_NAME = "fct_inventory_daily"
KEY_COLUMNS = ["location_id", "product_id", "inventory_date"]

# Stock older than this on the business date means the partner's feed stopped: plan on it only with a warning.
MAX_OBSERVATION_AGE_DAYS = 3


def inventory_daily_suite(as_of_date: date) -> gx.ExpectationSuite:
    """Critical rules block the partner's plan; warnings are recorded and shown."""
    return gx.ExpectationSuite(
        name=SUITE_NAME,
        expectations=[
            *[gxe.ExpectColumnValuesToNotBeNull(column=column, severity="critical") for column in KEY_COLUMNS],
            gxe.ExpectCompoundColumnsToBeUnique(column_list=KEY_COLUMNS, severity="critical"),
            gxe.ExpectColumnValuesToBeBetween(
                column="inventory_date",
                max_value=datetime.combine(as_of_date, time.min),
                severity="critical",
                description="No stock dated after the business date.",
            ),
            # Phantom negative stock happens in store systems; a sizeable share means the counts are broken.
            gxe.ExpectColumnValuesToBeBetween(
                column="on_hand_qty",
                min_value=0,
                mostly=0.98,
                severity="critical",
                description="At most 2 % of stock rows negative.",
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="on_hand_qty",
                min_value=0,
                severity="warning",
                description="No negative stock.",
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="observation_age_days",
                max_value=MAX_OBSERVATION_AGE_DAYS,
                mostly=0.95,
                severity="warning",
                description="Stock observed within the last few days.",
            ),
        ],
    )
