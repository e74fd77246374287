"""Business rules for stock reconciliation (`marts.stock_reconciliation`): do the partner's counts add up?

Each row compares a count with the previous count + our shipments received - units sold + returns; the dbt model
flags rows whose gap is above tolerance. A few such rows are normal (miscounts, a shelf corrected); many mean
the partner's stock cannot be planned on.
"""

from __future__ import annotations

from datetime import date, datetime, time

import great_expectations as gx
import great_expectations.expectations as gxe

SUITE_NAME = "stock_reconciliation"
TABLE = "marts.stock_reconciliation"
DATE_COLUMN = "reconciliation_date"
KEY_COLUMNS = ["location_id", "product_id", "reconciliation_date"]

# Shares of counts that may be off by more than the tolerance before the partner is warned about, or held.
MAX_SHARE_ABOVE_TOLERANCE_WARNING = 0.05
MAX_SHARE_ABOVE_TOLERANCE_ERROR = 0.20


def stock_reconciliation_suite(as_of_date: date) -> gx.ExpectationSuite:
    """Critical rules block the partner's plan; warnings are recorded and shown."""
    return gx.ExpectationSuite(
        name=SUITE_NAME,
        expectations=[
            *[gxe.ExpectColumnValuesToNotBeNull(column=column, severity="critical") for column in KEY_COLUMNS],
            gxe.ExpectCompoundColumnsToBeUnique(column_list=KEY_COLUMNS, severity="critical"),
            gxe.ExpectColumnValuesToBeBetween(
                column="reconciliation_date",
                max_value=datetime.combine(as_of_date, time.min),
                severity="critical",
                description="No count reconciled after the business date.",
            ),
            gxe.ExpectColumnValuesToNotBeNull(column="is_above_tolerance", severity="critical"),
            gxe.ExpectColumnValuesToBeInSet(
                column="is_above_tolerance",
                value_set=[False],
                mostly=1 - MAX_SHARE_ABOVE_TOLERANCE_ERROR,
                severity="critical",
                description=f"At most {MAX_SHARE_ABOVE_TOLERANCE_ERROR:.0%} of counts off by more than tolerance.",
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="is_above_tolerance",
                value_set=[False],
                mostly=1 - MAX_SHARE_ABOVE_TOLERANCE_WARNING,
                severity="warning",
                description=f"At most {MAX_SHARE_ABOVE_TOLERANCE_WARNING:.0%} of counts off by more than tolerance.",
            ),
        ],
    )
