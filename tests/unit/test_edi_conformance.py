"""Real partner interchanges from public EDI corpora (``../shared/conformance/edi/``) against their expected.json.

The corpus sits beside the repository (CI clones it with ``shared/`` next to the project); without it these tests
skip, saying so. Each file is read as delivered: refusals must name the real defect and its segment, readable
content must match the hand-read totals, locations and dates, and every quantity element must be accounted for.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from assets.feeds.errors import FeedError
from assets.feeds.parsers.detect import detect_format, parse_file
from assets.feeds.parsers.interchange import EnvelopeError
from assets.feeds.partner_config import FileSpec

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance" / "edi"
pytestmark = pytest.mark.skipif(
    not (CORPUS / "expected.json").is_file(),
    reason=f"conformance corpus not found at {CORPUS} (clone the shared folder beside the repository)",
)


def expected(name: str) -> dict:
    return json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))[name]


def read(name: str, path: Path | None = None, **spec_options):
    path = path or CORPUS / name
    spec = FileSpec(record_type="stock", pattern="*", format=detect_format(path), **spec_options)
    return parse_file(path, spec, "conformance_partner", "file-id")


def totals(parsed) -> dict[str, float]:
    sums: dict[str, float] = {}
    for result in parsed.results.values():
        for measure in ("on_hand_qty", "on_order_qty", "units_sold", "units_received", "units_out_of_stock"):
            if measure in result.rows and result.rows[measure].notna().any():
                sums[measure] = round(sums.get(measure, 0.0) + float(result.rows[measure].sum()), 6)
    return sums


def assert_accounted(parsed) -> None:
    account = parsed.account
    assert account.elements == account.loaded_elements + account.rejected_elements + account.unused_elements
    assert account.total == pytest.approx(account.loaded + account.rejected + account.unused_total)


def test_852_003030_with_bom_indentation_and_two_reporting_locations():
    name = "x12_852_003030_oopfactory_aftermarket_caret_bom_indented.txt"
    want = expected(name)
    parsed = read(name)
    assert totals(parsed) == {key: value for key, value in want["measures"].items() if value is not None}
    stock, sales = parsed.results["stock"].rows, parsed.results["sales"].rows
    assert set(stock["location_id"]) == {"007061617"}
    assert sales["location_id"].tolist() == ["007061618"], "the second N1*RL applies to LIN 3"
    assert sales["units_sold"].isna().all(), "no sales quantity reported: null, not zero"
    assert set(stock["as_of_date"].dt.date) == {date(1995, 6, 13)}
    assert set(stock["product_ref"]) == {"P96A", "P99A"}, "the vendor part (VP) names the item"
    assert parsed.rows_rejected == 0
    assert_accounted(parsed)


def test_852_004010_refused_for_its_real_envelope_defect_and_read_once_corrected(tmp_path):
    name = "x12_852_004010_oopfactory_hdexchange_caret_bom_indented.txt"
    with pytest.raises(EnvelopeError) as refused:
        read(name)
    assert refused.value.location == "segment 23"
    assert "IEA02 '000000002~' differs from ISA13 '000000002'" in refused.value.reason
    [interchange] = refused.value.interchanges
    assert interchange.first_fatal().x12_code == "001", "TA1 code: control numbers in header and trailer differ"
    corrected = tmp_path / name
    corrected.write_bytes((CORPUS / name).read_bytes().replace(b"000000002~^", b"000000002^"))
    parsed = read(name, corrected)
    assert totals(parsed) == expected(name)["measures"]
    rows = parsed.results["stock"].rows
    assert set(rows["location_id"]) == {"1234567890001"}
    assert set(rows["as_of_date"].dt.date) == {date(1999, 12, 5)}
    assert set(rows["product_ref"]) == {"00099999820102", "00099999825121"}, "UI codes completed to GTIN-14"
    unused = parsed.account.unused
    assert unused["852 QTY qualifier 17 not mapped"] == (2, 1503.0), "LIN-level QTY*17 beside ZA*QA is listed"
    assert_accounted(parsed)


def test_846_with_only_unmapped_qualifiers_says_so():
    name = "x12_846_004010_oopfactory_example1_tilde_brace.txt"
    parsed = read(name)
    assert parsed.rows_parsed == 0
    assert parsed.unusable_reason == "846 QTY qualifiers 34, QH, QB, 87 are not mapped for partner conformance_partner"
    assert parsed.account.unused_total == sum(expected(name)["quantities_as_sent"].values())
    mapped = read(name, quantity_codes={"34": "on_hand_qty"})
    assert totals(mapped) == {"on_hand_qty": 5250.0}
    assert mapped.results["stock"].rows["location_id"].tolist() == ["SAN003"], "N1*ST, not N1*SE"
    assert mapped.results["stock"].rows["uom"].tolist() == ["EA"], "unit from UIT"
    assert_accounted(mapped)


def test_846_with_star_terminator_decimals_and_merged_segments():
    name = "x12_846_004010_oopfactory_example2_tilde_star.txt"
    want = expected(name)
    parsed = read(name, constants={"location_id": "PARTNER-DC"})
    assert totals(parsed) == want["measures"]
    rows = parsed.results["stock"].rows.set_index("product_ref")
    assert rows.loc["H316L0750040", "on_order_qty"] == 1000 and rows["on_hand_qty"].isna().sum() == 1
    assert set(rows["uom"]) == {"FT", "FTCTT"}, "units kept as sent"
    assert set(rows["as_of_date"].dt.date) == {date(2003, 8, 28)}, "DTM*371 (a due date) dates nothing"
    assert any("REF at segment 15" in note for note in parsed.account.notes), "the broken REF is reported"
    defects = [defect for interchange in parsed.interchanges for defect in interchange.all_defects()]
    assert {(defect.tag, defect.x12_code) for defect in defects} >= {("REF", "3"), ("QTY", "5")}
    assert_accounted(parsed)


def test_slsrpt_with_two_interchanges_summed_and_check_digits_reported():
    name = "edifact_slsrpt_d96a_ean004_bots_multistore.edi"
    want = expected(name)
    strict = read(name)
    assert strict.rows_parsed == 0 and strict.rows_rejected == want["distinct_item_store_pairs_interchange_1"]
    assert "check digit" in strict.unusable_reason
    assert_accounted(strict)
    parsed = read(name, gtin="off")
    assert [interchange.control_number for interchange in parsed.interchanges] == ["76", "XXX"]
    sales = parsed.results["sales"].rows
    assert totals(parsed) == {"units_sold": want["measures"]["units_sold_both"]}
    assert len(sales) == want["distinct_item_store_pairs_interchange_1"], "repeated lines are summed, not refused"
    assert sales["location_id"].nunique() == 50
    assert set(sales["period_start"].dt.date) == {date(2008, 3, 31)}, "the location group's DTM+356 wins"
    assert parsed.rows_rejected == 0
    assert_accounted(parsed)


def test_out_of_scope_invoic_is_refused_by_name():
    with pytest.raises(FeedError, match="segment 3: message type INVOIC is not supported"):
        read("edifact_invoic_d93a_ica_negative_control.edi")


def test_every_corpus_file_is_covered_here():
    files = {path.name for path in CORPUS.iterdir() if path.name not in ("expected.json", "README.md")}
    assert files == set(json.loads((CORPUS / "expected.json").read_text(encoding="utf-8"))) - {"_about"}
