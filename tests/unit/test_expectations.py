from datetime import date

import duckdb
import pandas as pd
import pytest

from expectations.inventory import inventory_daily_suite
from expectations.runner import SEVERITY_ERROR, SEVERITY_WARNING, blocking_partners, validate_by_partner
from expectations.sales import sales_daily_suite
from expectations.store import store_outcomes

AS_OF = date(2025, 1, 10)


def inventory(partner: str, on_hand: list[float], start: str = "2025-01-01") -> pd.DataFrame:
    n = len(on_hand)
    return pd.DataFrame(
        {
            "partner_id": partner,
            "location_id": "L1",
            "product_id": "A",
            "inventory_date": pd.date_range(start, periods=n),
            "on_hand_qty": on_hand,
            "observation_age_days": 0,
        }
    )


@pytest.fixture(scope="module")
def outcomes():
    frame = pd.concat(
        [
            inventory("clean", [5.0] * 10),
            inventory("one_negative", [5.0] * 59 + [-1.0], start="2024-11-12"),
            inventory("broken", [-3.0] * 5 + [4.0] * 5),
            inventory("future", [5.0] * 10, start="2025-01-05"),
        ]
    )
    return validate_by_partner(frame, inventory_daily_suite(AS_OF))


def test_clean_partner_passes_everything(outcomes):
    clean = [o for o in outcomes if o.partner_id == "clean"]
    assert clean and all(o.passed for o in clean)


def test_a_single_negative_is_a_warning_not_a_block(outcomes):
    failed = [o for o in outcomes if o.partner_id == "one_negative" and not o.passed]
    assert [(o.column, o.severity) for o in failed] == [("on_hand_qty", SEVERITY_WARNING)]
    assert failed[0].unexpected_count == 1
    assert "-1" in failed[0].examples


def test_many_negatives_and_future_dates_block_only_those_partners(outcomes):
    held = blocking_partners(outcomes)
    assert set(held) == {"broken", "future"}
    assert any("on_hand_qty" in reason for reason in held["broken"])
    assert any("inventory_date" in reason for reason in held["future"])


def test_sales_suite_flags_duplicate_keys_as_errors():
    rows = pd.DataFrame(
        {
            "partner_id": "p",
            "location_id": "L1",
            "product_id": "A",
            "sales_date": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-01-02"]),
            "units_sold": [1.0, 2.0, 3.0],
        }
    )
    failed = [o for o in validate_by_partner(rows, sales_daily_suite(AS_OF)) if not o.passed]
    assert [(o.expectation, o.severity) for o in failed] == [("expect_compound_columns_to_be_unique", SEVERITY_ERROR)]


def test_results_are_replaced_per_date_and_check(outcomes):
    with duckdb.connect() as conn:
        for run in ("r1", "r2"):
            store_outcomes(conn, outcomes, run_id=run, as_of_date=AS_OF, asset_key="marts/x", check_name="gx_x")
        stored = conn.execute("select count(*), min(run_id), max(run_id) from quality.check_results").fetchone()
    assert stored == (len(outcomes), "r2", "r2")
