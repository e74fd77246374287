"""EDIFACT INVRPT and SLSRPT: UNA separators and release characters, envelope counts, stores, periods, rejects."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from assets.feeds.contracts import RAW_FEED_COLUMNS
from assets.feeds.errors import FeedError
from assets.feeds.parsers.edifact import parse_edifact
from assets.feeds.partner_config import FileSpec

SPEC = FileSpec(record_type="sales", pattern="*.edi", format="edifact")

# A daily EANCOM sales report, one segment per line; the trading name and an item text use released characters.
SALES_REPORT = """\
UNA:+.? '
UNB+UNOC:3+4012345000009:14+0842150000000:14+250630:0315+HH00000123++SLSRPT'
UNH+1+SLSRPT:D:01B:UN:EAN008'
BGM+73E::9+SR20250629+9'
DTM+137:20250630:102'
DTM+356:20250629:102'
DTM+357:20250629:102'
NAD+BY+4012345000009::9++Hansa Handel GmbH ?+ Co?: KG'
LOC+162+F012::92'
LIN+1++0084215010016:EN'
IMD+F++:::Sprudel ?'Classic?' 1L'
QTY+153:4'
QTY+61:1'
LIN+2++0084215010023:EN'
PIA+5+HH-77:SA'
QTY+153:2.5'
LOC+162+F027::92'
LIN+3++0084215010016:EN'
QTY+153:7'
CNT+2:3'
UNT+19+1'
UNZ+1+HH00000123'
"""

# A stock report with its own service characters (UNA: '*' elements, '>' components, '!' release, '~' end)
# and a decimal comma; two messages in one interchange; stores named by GLN (agency 9).
STOCK_REPORT = (
    "UNA>*,! ~"
    "UNB*UNOW>3*4012345000009>14*0842150000000>14*250630>0315*HH00000124**INVRPT~"
    "UNH*1*INVRPT>D>96A>UN>EAN008~BGM*35*IR20250629*9~DTM*137>20250630>102~"
    "DTM*90>20250629>102~DTM*91>20250629>102~NAD*BY*4012345000009>>9**Straße ! Söhne~"
    "LOC*162*4012345000016>>9~LIN*1**0084215010016>EN~QTY*145>12,5>PCE~"
    "LIN*2**0084215010023>EN~QTY*145>0>PCE~CNT*2>2~UNT*13*1~"
    "UNH*2*INVRPT>D>96A>UN>EAN008~DTM*137>20250630>102~DTM*90>20250628-20250629>718~"
    "LOC*162*F027>>92~LIN*1**0084215010016>EN~QTY*145>3>PCE~UNT*7*2~"
    "UNZ*2*HH00000124~"
)


def write(folder: Path, text: str, name: str = "SLSRPT_20250629.edi", encoding: str = "latin-1") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def parse(path: Path, spec: FileSpec = SPEC):
    return parse_edifact(path, spec, "hansa_handel", "file-1", default_currency="EUR")


def test_slsrpt_rows_per_store_and_item_with_released_characters(tmp_path):
    parsed = parse(write(tmp_path, SALES_REPORT))
    assert parsed.control_number == "HH00000123" and parsed.position == "segment"
    sales = parsed.results["sales"]
    assert list(sales.rows.columns) == list(RAW_FEED_COLUMNS["sales"])
    rows = [
        (
            row.location_id,
            row.product_ref,
            row.units_sold,
            None if pd.isna(row.units_returned) else row.units_returned,
            row.source_line,
        )
        for row in sales.rows.itertuples()
    ]
    assert rows == [
        ("F012", "00084215010016", 4.0, 1.0, 12),
        ("F012", "00084215010023", 2.5, None, 16),
        ("F027", "00084215010016", 7.0, None, 19),
    ], "released ' + : do not split segments; EAN-13 becomes GTIN-14; segments count from UNA = 1"
    assert (sales.rows["period_start"].dt.date == date(2025, 6, 29)).all()
    assert (sales.rows["period_end"].dt.date == date(2025, 6, 29)).all()
    assert set(sales.rows["currency"]) == {"EUR"}
    assert parsed.results["stock"].rows_parsed == 0


def test_invrpt_with_its_own_separators_decimal_comma_gln_stores_and_718_periods(tmp_path):
    spec = FileSpec(record_type="stock", pattern="*", format="edifact", message="INVRPT")
    parsed = parse(write(tmp_path, STOCK_REPORT, "INVRPT_20250629.edi", encoding="utf-8"), spec)
    assert parsed.control_number == "HH00000124"
    stock = parsed.results["stock"].rows
    rows = [
        (row.location_id, row.product_ref, row.as_of_date.date(), row.on_hand_qty, row.uom)
        for row in stock.itertuples()
    ]
    assert rows == [
        ("4012345000016", "00084215010016", date(2025, 6, 29), 12.5, "PCE"),
        ("4012345000016", "00084215010023", date(2025, 6, 29), 0.0, "PCE"),
        ("F027", "00084215010016", date(2025, 6, 29), 3.0, "PCE"),
    ]


def test_partner_codes_and_qualifiers(tmp_path):
    spec = FileSpec(
        record_type="sales", pattern="*", format="edifact", item_qualifiers=("SA", "EN"), quantity_codes={"61": None}
    )
    sales = parse(write(tmp_path, SALES_REPORT), spec).results["sales"].rows
    assert sales["product_ref"].tolist() == ["00084215010016", "HH-77", "00084215010016"]
    assert sales["units_returned"].isna().all(), "61 dropped: returns not reported"
    assert parsed_unused(tmp_path, spec) == {"SLSRPT QTY qualifier 61 not mapped": (1, 1.0)}


def parsed_unused(tmp_path: Path, spec: FileSpec) -> dict:
    return parse(write(tmp_path, SALES_REPORT, "SLSRPT_unused.edi"), spec).account.unused


def test_out_of_inventory_quantity_is_a_stock_out_and_received_quantity_a_receipt(tmp_path):
    """EANCOM QTY+217 (out of inventory quantity) is the 852's QO; QTY+48 (received quantity) its QR, unless the
    partner drops it."""
    text = SALES_REPORT.replace("QTY+61:1'", "QTY+61:1'\nQTY+217:3'\nQTY+48:24'").replace("UNT+19", "UNT+21")
    sales = parse(write(tmp_path, text)).results["sales"].rows
    first = sales.iloc[0]
    assert (first.units_sold, first.units_out_of_stock) == (4.0, 3.0)
    assert first.units_received == 24.0
    assert sales.iloc[1:]["units_out_of_stock"].isna().all()
    dropped = FileSpec(record_type="sales", pattern="*", format="edifact", quantity_codes={"48": None})
    parsed = parse(write(tmp_path, text, "SLSRPT_dropped.edi"), dropped)
    assert pd.isna(parsed.results["sales"].rows.iloc[0].units_received)
    assert parsed.account.unused == {"SLSRPT QTY qualifier 48 not mapped": (1, 24.0)}


def test_bad_gtin_bad_gln_and_bad_quantity_reject_rows(tmp_path):
    text = (
        SALES_REPORT.replace("LIN+3++0084215010016:EN", "LIN+3++0084215010017:EN")
        .replace("QTY+153:2.5", "QTY+153:2,5")
        .replace("LOC+162+F012::92", "LOC+162+4012345000017::9")
    )
    parsed = parse(write(tmp_path, text))
    rejects = parsed.results["sales"].rejects
    reasons = dict(zip(rejects["source_line"], rejects["reason"], strict=True))
    assert reasons == {
        12: "store GLN '4012345000017' has check digit 7, expected 6",
        16: "store GLN '4012345000017' has check digit 7, expected 6; bad quantity '2,5' for QTY+153 at segment 16",
        19: "GTIN '0084215010017' has check digit 7, expected 6 (LIN at segment 18)",
    }
    assert rejects["raw_record"].iloc[2] == "LIN+3++0084215010017:EN\nQTY+153:7"
    assert parsed.rows_parsed == 0


@pytest.mark.parametrize(
    ("change", "where", "reason"),
    [
        (lambda t: t.replace("UNT+19+1", "UNT+18+1"), "segment 21", "UNT says 18 segments but message 1 has 19"),
        (lambda t: t.replace("UNT+19+1", "UNT+19+2"), "segment 21", "UNT reference '2' differs from UNH '1'"),
        (lambda t: t.replace("UNZ+1+HH00000123", "UNZ+2+HH00000123"), "segment 22", "UNZ says 2 messages"),
        (lambda t: t.replace("UNZ+1+HH00000123", "UNZ+1+HH9"), "segment 22", "UNZ reference 'HH9' differs"),
        (lambda t: t.replace("CNT+2:3", "CNT+2:4"), "segment 20", "CNT+2 says 4 line items but message 1 has 3"),
        (lambda t: t.replace("SLSRPT:D:01B", "ORDERS:D:96A"), "segment 3", "message type ORDERS is not supported"),
        (lambda t: t.replace("UNOC:3", "UNOX:3"), "segment 2", "unsupported character set 'UNOX'"),
        (
            lambda t: t.replace("DTM+356:20250629:102'\nDTM+357:20250629:102'\n", "").replace("UNT+19", "UNT+17"),
            "segment 3",
            "SLSRPT message 1 has no sales period",
        ),
        (lambda t: t.replace("DTM+356:20250629:102", "DTM+356:20250631:102"), "segment 6", "not a date"),
        (lambda t: t[: t.index("UNZ")], "segment 22", "interchange is truncated: no UNZ trailer"),
        (lambda t: t[: t.index("CNT")] + "QTY+15", "segment 20", "last segment 'QTY+15' has no terminator"),
        (lambda t: t[: t.index("UNT")], "segment 21", "message 1 has no UNT"),
        (lambda t: t.replace("UNB+", "UNX+"), "segment 2", "expected UNB"),
    ],
)
def test_envelope_problems_name_the_segment_and_the_reason(tmp_path, change, where, reason):
    path = write(tmp_path, change(SALES_REPORT))
    with pytest.raises(FeedError) as error:
        parse(path)
    assert (error.value.location, reason in error.value.reason) == (where, True), str(error.value)


def test_without_una_the_default_service_characters_apply(tmp_path):
    parsed = parse(write(tmp_path, SALES_REPORT.replace("UNA:+.? '\n", "")))
    assert parsed.results["sales"].rows["source_line"].tolist() == [11, 15, 18]


def test_utf8_declared_but_not_utf8_is_an_encoding_error(tmp_path):
    text = SALES_REPORT.replace("UNOC:3", "UNOW:3")
    with pytest.raises(FeedError, match="segment 2: bytes at offset .* are not valid UNOW"):
        parse(write(tmp_path, text.replace("Sprudel", "Spr\u00fcdel"), encoding="latin-1"))


def test_empty_utf16_and_foreign_files_are_refused(tmp_path):
    with pytest.raises(FeedError, match="empty file"):
        parse(write(tmp_path, "", "empty.edi"))
    with pytest.raises(FeedError, match="unsupported encoding: UTF-16"):
        parse(write(tmp_path, SALES_REPORT, "wide.edi", encoding="utf-16"))
    with pytest.raises(FeedError, match="message SLSRPT where this feed expects INVRPT"):
        parse(
            write(tmp_path, SALES_REPORT),
            FileSpec(record_type="stock", pattern="*", format="edifact", message="INVRPT"),
        )


def test_a_broken_second_interchange_is_refused_and_the_first_loads(tmp_path):
    second = SALES_REPORT.replace("UNA:+.? '\n", "").replace("HH00000123", "HH00000125")
    text = SALES_REPORT + second.replace("UNZ+1+HH00000125", "UNZ+2+HH00000125")
    parsed = parse(write(tmp_path, text))
    first, broken = parsed.outcomes
    assert (first.outcome, first.reason, first.control_number) == ("loaded", None, "HH00000123")
    assert (broken.outcome, broken.control_number) == ("refused", "HH00000125")
    assert broken.reason.startswith("segment 43: UNZ says 2 messages"), broken.reason
    assert parsed.rows_parsed == 3
    assert (first.quantities_reported, first.quantities_loaded) == (4, 4)
    assert (broken.quantities_reported, broken.quantities_rejected) == (4, 4)
    account = parsed.account
    assert (account.elements, account.loaded_elements, account.rejected_elements) == (8, 4, 4)


def test_a_broken_message_leaves_no_row_and_its_neighbour_loads(tmp_path):
    spec = FileSpec(record_type="stock", pattern="*.edi", format="edifact")
    parsed = parse(write(tmp_path, STOCK_REPORT.replace("UNT*7*2", "UNT*8*2"), encoding="utf-8"), spec)
    [outcome] = parsed.outcomes
    assert (outcome.outcome, outcome.sets, outcome.sets_rejected) == ("partly_loaded", 2, 1)
    assert "UNT says 8 segments" in outcome.reason
    assert sorted(parsed.results["stock"].rows["on_hand_qty"]) == [0.0, 12.5]
    assert (outcome.quantities_loaded, outcome.quantities_rejected) == (2, 1)
