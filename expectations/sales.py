"""Business rules for daily sales (`marts.fct_sales_daily`): what must hold before a partner's sales feed a forecast."""

from __future__ import annotations

from datetime import date, datetime, time

import great_expectations as gx
import great_expectations.expectations as gxe

SUITE_NAME = "fct_sales_daily"
KEY_COLUMNS = ["location_id", "product_id", "sales_date"]


def sales_daily_suite(as_of_date: date) -> gx.ExpectationSuite:
    """Critical rules block the partner's plan; warnings are recorded and shown."""
    return gx.ExpectationSuite(
        name=SUITE_NAME,
        expectations=[
            *[gxe.ExpectColumnValuesToNotBeNull(column=column, severity="critical") for column in KEY_COLUMNS],
            gxe.ExpectCompoundColumnsToBeUnique(column_list=KEY_COLUMNS, severity="critical"),
            gxe.ExpectColumnValuesToBeBetween(
                column="sales_date",
                max_value=datetime.combine(as_of_date, time.min),
                severity="critical",
                description="No sales dated after the business date.",
            ),
            # Partners send negative corrections now and then; many of them means the feed is wrong.
            gxe.ExpectColumnValuesToBeBetween(
                column="units_sold",
                min_value=0,
                mostly=0.99,
                severity="critical",
                description="At most 1 % of sales rows negative.",
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="units_sold",
                min_value=0,
                severity="warning",
                description="No negative sales rows.",
            ),
        ],
    )
