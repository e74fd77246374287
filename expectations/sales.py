"""Business rules for daily sales (`marts.fct_sales_daily`): what must hold before a partner's sales feed a forecast."""

from __future__ import annotations

from datetime import date

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.rules import filled, non_negative, not_after_business_date

SUITE_NAME = "fct_sales_daily"
KEY_COLUMNS = ["location_id", "product_id", "sales_date"]


def sales_daily_suite(as_of_date: date) -> gx.ExpectationSuite:
    """Critical rules block the partner's plan; warnings are recorded and shown."""
    return gx.ExpectationSuite(
        name=SUITE_NAME,
        expectations=[
            *filled(KEY_COLUMNS),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=KEY_COLUMNS, severity="critical"),
            not_after_business_date("sales_date", as_of_date, "No sales dated after the business date."),
            # Partners send negative corrections now and then; many of them means the feed is wrong.
            *non_negative("units_sold", 0.01, "sales rows"),
        ],
    )
