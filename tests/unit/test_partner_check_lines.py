"""A quality check's page says, partner by partner and in words, who passed, who is held and why."""

from assets.renderers.metadata import PARTNER_LINES_SHOWN, partner_check_lines


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
