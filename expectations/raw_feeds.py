"""Business rules for the partner feeds as parsed (`raw.sales`, `raw.stock_snapshots`): can a night's lines be used?

The raw tables hold one row per file line, before staging casts and de-duplicates them, so these suites catch a
broken file at the door: columns missing, keys or quantities blank, dates after the business date, negative
quantities, and the same key twice in one file. Resends repeat keys across files by design; only a repeat
within one file is suspicious (staging keeps its last line).
"""

from __future__ import annotations

from datetime import date

import great_expectations as gx
import great_expectations.expectations as gxe

from expectations.rules import filled, non_negative, not_after_business_date

SALES_SUITE_NAME = "raw_sales"
SALES_TABLE = "raw.sales"
SALES_DATE_COLUMN = "period_end"
SALES_REQUIRED_COLUMNS = [
    "partner_id",
    "location_id",
    "product_ref",
    "period_start",
    "period_end",
    "units_sold",
    "source_file_id",
    "source_line",
]
SALES_KEY_COLUMNS = ["source_file_id", "location_id", "product_ref", "period_start", "period_end"]

STOCK_SUITE_NAME = "raw_stock_snapshots"
STOCK_TABLE = "raw.stock_snapshots"
STOCK_DATE_COLUMN = "as_of_date"
STOCK_REQUIRED_COLUMNS = [
    "partner_id",
    "location_id",
    "product_ref",
    "as_of_date",
    "on_hand_qty",
    "source_file_id",
    "source_line",
]
STOCK_KEY_COLUMNS = ["source_file_id", "location_id", "product_ref", "as_of_date"]


def _door_rules(required_columns: list[str], not_null_columns: list[str]) -> list:
    """Rules without which no line can be used: the columns exist and the keys and quantities are filled."""
    return [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=required_columns,
            exact_match=False,
            severity="critical",
            description="The parser delivered every required column.",
        ),
        *filled(not_null_columns),
    ]


def raw_sales_suite(as_of_date: date) -> gx.ExpectationSuite:
    """Critical rules block the partner's plan; warnings are recorded and shown."""
    return gx.ExpectationSuite(
        name=SALES_SUITE_NAME,
        expectations=[
            *_door_rules(
                SALES_REQUIRED_COLUMNS,
                ["location_id", "product_ref", "period_start", "period_end", "units_sold", "source_file_id"],
            ),
            not_after_business_date("period_end", as_of_date, "No sales period ending after the business date."),
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="period_end",
                column_B="period_start",
                or_equal=True,
                severity="warning",
                description="Periods end on or after they start (others are listed as invalid periods).",
            ),
            # Partners send negative corrections now and then; many of them means the file is wrong.
            *non_negative("units_sold", 0.01, "sales lines"),
            gxe.ExpectColumnValuesToBeBetween(
                column="units_returned",
                min_value=0,
                severity="warning",
                description="Returns are reported as positive units.",
            ),
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=SALES_KEY_COLUMNS,
                severity="warning",
                description="One line per location, item and period within a file.",
            ),
        ],
    )


def raw_stock_snapshots_suite(as_of_date: date) -> gx.ExpectationSuite:
    """Critical rules block the partner's plan; warnings are recorded and shown."""
    return gx.ExpectationSuite(
        name=STOCK_SUITE_NAME,
        expectations=[
            *_door_rules(
                STOCK_REQUIRED_COLUMNS,
                ["location_id", "product_ref", "as_of_date", "on_hand_qty", "source_file_id"],
            ),
            not_after_business_date("as_of_date", as_of_date, "No stock counted after the business date."),
            # Phantom negative stock happens in store systems; a sizeable share means the counts are broken.
            *non_negative("on_hand_qty", 0.02, "stock lines"),
            *[
                gxe.ExpectColumnValuesToBeBetween(
                    column=column,
                    min_value=0,
                    severity="warning",
                    description=f"No negative {column.removesuffix('_qty').replace('_', ' ')} quantity.",
                )
                for column in ("on_order_qty", "in_transit_qty")
            ],
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=STOCK_KEY_COLUMNS,
                severity="warning",
                description="One count per location, item and day within a file.",
            ),
        ],
    )
