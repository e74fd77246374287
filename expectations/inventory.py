"""Business rules for daily stock (`marts.fct_inventory_daily`): can the partner's on-hand be planned on?"""

from __future__ import annotations

from datetime import date

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.rules import filled, non_negative, not_after_business_date

SUITE_NAME = "fct_inventory_daily"
KEY_COLUMNS = ["location_id", "product_id", "inventory_date"]

# Stock older than this on the business date means the partner's feed stopped: plan on it only with a warning.
MAX_OBSERVATION_AGE_DAYS = 3


def inventory_daily_suite(as_of_date: date) -> gx.ExpectationSuite:
    """Critical rules block the partner's plan; warnings are recorded and shown."""
    return gx.ExpectationSuite(
        name=SUITE_NAME,
        expectations=[
            *filled(KEY_COLUMNS),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=KEY_COLUMNS, severity="critical"),
            not_after_business_date("inventory_date", as_of_date, "No stock dated after the business date."),
            # Phantom negative stock happens in store systems; a sizeable share means the counts are broken.
            *non_negative("on_hand_qty", 0.02, "stock rows"),
            gxe.ExpectColumnValuesToBeBetween(
                column="observation_age_days",
                max_value=MAX_OBSERVATION_AGE_DAYS,
                mostly=0.95,
                severity="warning",
                description="Stock observed within the last few days.",
            ),
        ],
    )
