"""The feeds' and a quality check's pages say, partner by partner and in words, what was delivered, who passed,
who is held and why."""

import pandas as pd

from assets.renderers.metadata import PARTNER_LINES_SHOWN, partner_check_lines, partner_delivery_lines


def rule(partner: str, passed: bool, severity: str = "error", **fields: object) -> dict:
    return {
        "suite": "raw_stock_snapshots",
        "partner_id": partner,
        "expectation": "expect_column_values_to_be_between",
        "column": "on_hand_qty",
        "severity": severity,
        "passed": passed,
        "unexpected_count": 3,
        "examples": "[-4, -1]",
        **fields,
    }


def test_each_partner_gets_a_line_held_by_its_blocking_rule_in_words():
    lines = partner_check_lines(
        [
            rule("acme", True),
            rule("acme", True, column="snapshot_date"),
            rule("nord", False, severity="warning", column="snapshot_date"),
            rule("nord", False),
            rule("nord", False, column="location_id", expectation="expect_column_values_to_not_be_null"),
            rule("zeta", False, severity="warning"),
        ]
    )
    assert list(lines) == ["partner acme", "partner nord", "partner zeta"]
    assert lines["partner acme"] == "passed all 2 rules"
    assert lines["partner nord"].startswith("held: 3 ")
    assert "blocks the plan" in lines["partner nord"] and lines["partner nord"].endswith("(and 2 more failed rules)")
    assert "expect_" not in lines["partner nord"]
    assert lines["partner zeta"].startswith("warned: ") and "the plan goes ahead" in lines["partner zeta"]


def test_a_supplier_with_many_partners_sees_the_first_ones_and_how_many_more():
    lines = partner_check_lines([rule(f"p{i:03d}", True) for i in range(PARTNER_LINES_SHOWN + 7)])
    assert len(lines) == PARTNER_LINES_SHOWN + 1
    assert lines["partners not listed"] == "7 more partners checked"


def test_each_partner_that_delivered_gets_a_line_of_files_rows_and_its_newest_problem():
    ledger = pd.DataFrame(
        {
            "partner_id": ["acme", "acme", "acme", "nord"],
            "status": ["loaded", "quarantined", "duplicate", "loaded"],
            "files": [12, 1, 2, 3],
            "rows_parsed": [3400, 0, 0, 90],
            "rows_rejected": [2, 1, 0, 0],
        }
    )
    problems = pd.DataFrame(
        {
            "partner_id": ["acme"],
            "path": ["acme/stock_0630.csv"],
            "status": ["quarantined"],
            "reason": ["line 4: on_hand_qty 'abc' is not a number"],
        }
    )
    lines = partner_delivery_lines(ledger, problems)
    assert lines == {
        "partner acme": "12 files loaded (3,400 rows, 2 rejected), 2 duplicates, 1 quarantined; newest not loaded: "
        "acme/stock_0630.csv (quarantined: line 4: on_hand_qty 'abc' is not a number)",
        "partner nord": "3 files loaded (90 rows, 0 rejected)",
    }
    assert partner_delivery_lines(ledger.iloc[0:0], problems.iloc[0:0]) == {}
