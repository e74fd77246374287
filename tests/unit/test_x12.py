"""X12 852 and 846: separators from ISA, envelopes and counts checked, SDQ spread per store, rejects with reasons."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from assets.feeds.contracts import RAW_FEED_COLUMNS, REJECT_COLUMNS
from assets.feeds.errors import FeedError
from assets.feeds.parsers.x12 import parse_x12
from assets.feeds.partner_config import FileSpec

SPEC = FileSpec(record_type="sales", pattern="*.x12", format="x12")

# A weekly 852 as a US grocer's translator writes it: '~' after every segment plus CR/LF, two ST sets in one GS.
PRODUCT_ACTIVITY = """\
ISA*00*          *00*          *ZZ*REDWOODGROC    *ZZ*084215000000   *250623*0215*U*00401*000000412*0*P*>~\r
GS*PD*REDWOODGROC*084215000000*20250623*0215*412*X*004010~\r
ST*852*0001~\r
XQ*H*20250616*20250622~\r
N9*IA*RG8421~\r
N1*BY*REDWOOD GROCERS*92*REDWOODGROC~\r
LIN**UP*084215010016*VN*RG-1001~\r
ZA*QS~\r
SDQ*EA*92*1042*48*1107*37*2231*12*3310*9~\r
ZA*QU~\r
SDQ*EA*92*1107*2~\r
ZA*QA~\r
SDQ*EA*92*1042*26*1107*90*2231*0*3310*14~\r
ZA*QR~\r
SDQ*EA*92*1042*24~\r
LIN**UP*084215010023~\r
ZA*TS~\r
SDQ*EA*92*1042*5~\r
ZA*OH~\r
SDQ*EA*92*1042*11~\r
CTT*2~\r
SE*20*0001~\r
ST*852*0002~\r
XQ*H*20250616*20250622~\r
LIN**VN*RG-1030*UP*084215010030~\r
ZA*QS~\r
SDQ*EA*92*1042*3~\r
CTT*1~\r
SE*7*0002~\r
GE*2*412~\r
IEA*1*000000412~\r
"""

# A daily 846 with other separators ('|' elements, '^' components, newline-less '\\' terminator) and two groups.
INVENTORY_ADVICE = (
    "ISA|00|          |00|          |ZZ|REDWOODGROC    |ZZ|084215000000   |250630|0140|U|00401|000000413|0|P|^\\"
    "GS|IB|REDWOODGROC|084215000000|20250630|0140|413|X|004010\\"
    "ST|846|0001\\BIA|00|SI|INV2025062901|20250629\\N1|ST|Lincoln Park|92|1042\\"
    "LIN||UP|084215010016\\QTY|33|25|EA^1\\QTY|17|27|EA\\QTY|63|12|EA\\"
    "LIN||EN|0084215010023\\QTY|33|4|EA\\CTT|2\\SE|11|0001\\"
    "GE|1|413\\"
    "GS|IB|REDWOODGROC|084215000000|20250630|0140|414|X|004010\\"
    "ST|846|0001\\BIA|00|SI|INV2025062902|20250629\\"
    "LIN||UP|084215010016\\N1|ST|Evanston Central|92|1107\\QTY|33|8|EA\\DTM|007|20250628\\QTY|33|7|EA\\"
    "CTT|1\\SE|9|0001\\"
    "GE|1|414\\"
    "IEA|2|000000413\\"
)


def write(folder: Path, text: str, name: str = "852_20250616_20250622.x12", encoding: str = "ascii") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def parse(path: Path, spec: FileSpec = SPEC):
    return parse_x12(path, spec, "redwood_grocers", "file-1", default_currency="USD")


def reported(rows: pd.DataFrame, measure: str) -> dict:
    """A measure per row key, None where the file does not report it."""
    return {key: None if pd.isna(value) else float(value) for key, value in rows[measure].items()}


def test_852_spreads_sdq_pairs_to_one_row_per_store(tmp_path):
    parsed = parse(write(tmp_path, PRODUCT_ACTIVITY))
    assert parsed.control_number == "000000412" and parsed.position == "segment"
    sales, stock = parsed.results["sales"], parsed.results["stock"]
    assert list(sales.rows.columns) == list(RAW_FEED_COLUMNS["sales"])
    assert list(stock.rows.columns) == list(RAW_FEED_COLUMNS["stock"])
    assert list(sales.rejects.columns) == list(REJECT_COLUMNS)
    sold = {
        (row.location_id, row.product_ref): (
            row.units_sold,
            None if pd.isna(row.units_returned) else row.units_returned,
        )
        for row in sales.rows.itertuples()
    }
    assert sold == {
        ("1042", "00084215010016"): (48.0, None),
        ("1107", "00084215010016"): (37.0, 2.0),
        ("2231", "00084215010016"): (12.0, None),
        ("3310", "00084215010016"): (9.0, None),
        ("1042", "00084215010023"): (5.0, None),
        ("1042", "00084215010030"): (3.0, None),
    }, "UP beats VN, UPC-A becomes GTIN-14, TS counts as sold, QU as returned; returns not reported are null"
    assert (sales.rows["period_start"].dt.date == date(2025, 6, 16)).all()
    assert (sales.rows["period_end"].dt.date == date(2025, 6, 22)).all()
    assert set(sales.rows["currency"]) == {"USD"}
    keys = zip(stock.rows["location_id"], stock.rows["product_ref"], strict=True)
    on_hand = dict(zip(keys, stock.rows["on_hand_qty"], strict=True))
    assert on_hand == {
        ("1042", "00084215010016"): 26.0,
        ("1107", "00084215010016"): 90.0,
        ("2231", "00084215010016"): 0.0,
        ("3310", "00084215010016"): 14.0,
        ("1042", "00084215010023"): 11.0,
    }, "QR is a receipt, not a count; OH is on hand"
    assert (stock.rows["as_of_date"].dt.date == date(2025, 6, 22)).all(), "stock is dated at the period end"
    received = reported(sales.rows.set_index(["location_id", "product_ref"]), "units_received")
    assert received.pop(("1042", "00084215010016")) == 24.0, "ZA*QR lands on the sales row of its store and week"
    assert set(received.values()) == {None}, "a store the QR does not name reports no receipt"
    assert sales.rows["source_line"].iloc[0] == 9, "the SDQ segment, counted from ISA = 1"
    assert parsed.rows_rejected == 0


def test_846_reads_its_own_separators_groups_loops_and_dates(tmp_path):
    spec = FileSpec(record_type="stock", pattern="*", format="x12", message="846")
    parsed = parse(write(tmp_path, INVENTORY_ADVICE, "846_20250629.x12"), spec)
    assert parsed.control_number == "000000413"
    assert parsed.results["sales"].rows_parsed == 0
    stock = parsed.results["stock"].rows
    rows = {
        (row.location_id, row.product_ref, row.as_of_date.date()): (
            row.on_hand_qty,
            None if pd.isna(row.on_order_qty) else row.on_order_qty,
            row.uom,
        )
        for row in stock.itertuples()
    }
    assert rows == {
        ("1042", "00084215010016", date(2025, 6, 29)): (27.0, 12.0, "EA"),
        ("1042", "00084215010023", date(2025, 6, 29)): (4.0, None, "EA"),
        ("1107", "00084215010016", date(2025, 6, 29)): (8.0, None, "EA"),
        ("1107", "00084215010016", date(2025, 6, 28)): (7.0, None, "EA"),
    }, "QTY*17 is on hand (QTY*33 only where no 17 is sent), QTY*63 on order; a loop DTM re-dates the count"
    assert parsed.account.unused == {"33 (on_hand_qty taken from 17)": (1, 25.0)}, "the 33 beside a 17 is listed"


def test_partner_mapping_overrides_codes_and_qualifiers(tmp_path):
    spec = FileSpec(
        record_type="sales",
        pattern="*",
        format="x12",
        item_qualifiers=("VN", "UP"),
        activity_codes={"TS": None, "QA": None, "OH": None},
        gtin="off",
    )
    parsed = parse(write(tmp_path, PRODUCT_ACTIVITY), spec)
    sales = parsed.results["sales"].rows
    assert sales["product_ref"].tolist() == ["RG-1001"] * 4 + ["RG-1030"], "TS dropped: item 2 reports no sales"
    assert parsed.results["stock"].rows_parsed == 0, "QA and OH dropped"
    assert parsed.rows_rejected == 0


def test_receipts_and_stock_outs_are_period_activity_on_the_sales_rows(tmp_path):
    """QR received and QO out of stock, spread by SDQ like sales; a store with only a QO still gets a sales row."""
    text = PRODUCT_ACTIVITY.replace(
        "ZA*QR~\r\nSDQ*EA*92*1042*24~", "ZA*QR~\r\nSDQ*EA*92*1042*24*2231*12~\r\nZA*QO~\r\nSDQ*EA*92*2231*3*4471*2~"
    ).replace("SE*20*0001", "SE*22*0001")
    parsed = parse(write(tmp_path, text))
    sales = parsed.results["sales"].rows
    first_item = sales[sales["product_ref"] == "00084215010016"].set_index("location_id")
    received, out_of_stock = (reported(first_item, measure) for measure in ("units_received", "units_out_of_stock"))
    assert received == {"1042": 24.0, "1107": None, "2231": 12.0, "3310": None, "4471": None}
    assert out_of_stock == {"1042": None, "1107": None, "2231": 3.0, "3310": None, "4471": 2.0}
    assert pd.isna(first_item.loc["4471", "units_sold"]), "no sales reported where only the stock-out is: null"
    assert parsed.results["stock"].rows_parsed == 5, "neither QR nor QO is a stock count"


def test_a_partner_can_drop_or_rename_the_receipt_and_stock_out_codes(tmp_path):
    text = PRODUCT_ACTIVITY.replace("ZA*QR~", "ZA*QO~")
    dropped = FileSpec(record_type="sales", pattern="*", format="x12", activity_codes={"QO": None})
    sales = parse(write(tmp_path, text), dropped).results["sales"].rows
    assert set(reported(sales, "units_out_of_stock").values()) == {None}
    renamed = FileSpec(record_type="sales", pattern="*", format="x12", activity_codes={"LS": "units_out_of_stock"})
    text = PRODUCT_ACTIVITY.replace("ZA*QR~", "ZA*LS~")
    sales = parse(write(tmp_path, text, "lost_sales.x12"), renamed).results["sales"].rows
    assert max(filter(None, reported(sales, "units_out_of_stock").values())) == 24.0, "LS read as out of stock"
    assert set(reported(sales, "units_received").values()) == {None}


def test_a_measure_left_out_is_null_not_zero(tmp_path):
    text = PRODUCT_ACTIVITY.replace("ZA*QS~\r\nSDQ*EA*92*1042*48*1107*37*2231*12*3310*9~\r\n", "")
    text = text.replace("SE*20*0001", "SE*18*0001")
    sales = parse(write(tmp_path, text)).results["sales"].rows
    sold, returned = sales.loc[sales["location_id"] == "1107", ["units_sold", "units_returned"]].values.tolist()[0]
    assert pd.isna(sold) and returned == 2


def test_bad_check_digit_unknown_qualifier_and_bad_quantity_reject_rows_with_reasons(tmp_path):
    text = (
        PRODUCT_ACTIVITY.replace("LIN**UP*084215010023", "LIN**UP*084215010024")
        .replace("LIN**VN*RG-1030*UP*084215010030", "LIN**ZZ*RG-1030")
        .replace("SDQ*EA*92*1042*48*1107*37", "SDQ*EA*92*1042*4x*1107*37")
    )
    parsed = parse(write(tmp_path, text))
    rejects = parsed.results["sales"].rejects
    reasons = dict(zip(rejects["source_line"], rejects["reason"], strict=True))
    assert reasons[9] == "bad quantity '4x' for QS at segment 9"
    assert reasons[18].startswith("GTIN '084215010024' has check digit 4, expected 3 (LIN UP at segment 16)")
    assert reasons[27] == "LIN at segment 25 has no item id qualified UP/EN/UK/UI/VN/VP/VC/MG/BP/IN/SK (found ZZ)"
    stock_rejects = parsed.results["stock"].rejects
    assert "check digit" in stock_rejects["reason"].iloc[0], "the bad GTIN rejects its stock row too"
    assert "LIN**UP*084215010024" in stock_rejects["raw_record"].iloc[0]
    assert parsed.results["sales"].rows_parsed == 3, "the other stores of the first item still load"


def test_gln_store_ids_are_check_digit_verified(tmp_path):
    text = PRODUCT_ACTIVITY.replace("SDQ*EA*92*1042*5~", "SDQ*EA*UL*0860001230017*5*0860001230016*1~")
    sales = parse(write(tmp_path, text)).results["sales"]
    assert sales.rejects["reason"].tolist() == ["store GLN '0860001230016' has check digit 6, expected 7"]
    assert "0860001230017" in set(sales.rows["location_id"])


@pytest.mark.parametrize(
    ("change", "where", "reason"),
    [
        (
            lambda t: t.replace("GE*2*412", "GE*1*412"),
            "segment 30",
            "GE01 says 1 transaction sets (ST) but 2 were sent",
        ),
        (lambda t: t.replace("IEA*1*000000412", "IEA*2*000000412"), "segment 31", "IEA01 says 2 functional groups"),
        (lambda t: t.replace("IEA*1*000000412", "IEA*1*000000999"), "segment 31", "IEA02 '000000999' differs"),
        (lambda t: t[: t.index("GE*2")], "segment 30", "interchange is truncated: group 412 has no GE"),
        (lambda t: t[: t.index("SE*7*0002")] + "SE*7", "segment 29", "last segment 'SE*7' has no terminator '~'"),
        (lambda t: t + "ISA*00*", "segment 32", "truncated ISA header"),
        (
            lambda t: t.replace("SE*20*0001", "SE*21*0001").replace("IEA*1*000000412~\r\n", "IEA*1*000000999"),
            "segment 22",
            "(ST to SE) (also segment 31: IEA02 '000000999' differs",
        ),
        (lambda t: t[:60], "segment 1", "truncated ISA header"),
        (lambda t: "GS*PD*X~" + t, "segment 1", "not an X12 interchange"),
    ],
)
def test_envelope_problems_name_the_segment_and_the_reason(tmp_path, change, where, reason):
    path = write(tmp_path, change(PRODUCT_ACTIVITY))
    with pytest.raises(FeedError) as error:
        parse(path)
    assert error.value.path == path
    assert error.value.location == where, str(error.value)
    assert reason in error.value.reason
    assert str(error.value).startswith(f"{path}: {where}: ")


@pytest.mark.parametrize(
    ("change", "index", "outcome", "where", "reason", "sets_loaded"),
    [
        (lambda t: t.replace("SE*20*0001", "SE*21*0001"), 1, "partly_loaded", 22, "SE01 says 21 segments", {"0002"}),
        (lambda t: t.replace("SE*7*0002", "SE*7*0009"), 1, "partly_loaded", 29, "SE02 '0009' differs", {"0001"}),
        (lambda t: t.replace("CTT*2~", "CTT*3~"), 1, "partly_loaded", 21, "CTT01 says 3 line items", {"0002"}),
        (
            lambda t: t.replace("ST*852*0002", "ST*810*0002"),
            1,
            "partly_loaded",
            23,
            "set 810 is not supported",
            {"0001"},
        ),
        (
            lambda t: t.replace("XQ*H*20250616*20250622~\r\nN9", "N9").replace("SE*20*0001", "SE*19*0001"),
            1,
            "partly_loaded",
            3,
            "852 transaction set has no XQ",
            {"0002"},
        ),
        (
            lambda t: t.replace("XQ*H*20250616*20250622~\r\nN9", "XQ*H*20251316*20250622~\r\nN9"),
            1,
            "partly_loaded",
            4,
            "XQ02",
            {"0002"},
        ),
        (lambda t: t + t, 2, "refused", 32, "ISA13 000000412 repeats an earlier interchange", {"0001", "0002"}),
    ],
)
def test_a_defect_refuses_its_set_or_interchange_and_the_rest_loads(
    tmp_path, change, index, outcome, where, reason, sets_loaded
):
    """Each interchange, and each set of a sound one, stands on its own: the others load, nothing goes unsaid."""
    parsed = parse_x12(write(tmp_path, change(PRODUCT_ACTIVITY)), SPEC, "redwood_grocers", "f1")
    assert [item.outcome for item in parsed.outcomes][index - 1] == outcome
    refused = parsed.outcomes[index - 1]
    assert refused.reason.startswith(f"segment {where}: ") and reason in refused.reason, refused.reason
    # Rows come only from the sets that loaded: set 0001 reports stores 1042..3310, set 0002 store 1042 alone.
    stores = set(parsed.results["sales"].rows["location_id"]) | set(parsed.results["stock"].rows["location_id"])
    assert ("3310" in stores) == ("0001" in sets_loaded)
    account = parsed.account
    assert account.elements == account.loaded_elements + account.rejected_elements + account.unused_elements
    assert account.rejected_elements >= refused.quantities_rejected > 0
    assert sum(item.quantities_reported for item in parsed.outcomes) == account.elements


def test_a_set_other_than_the_configured_message_is_refused(tmp_path):
    spec = FileSpec(record_type="stock", pattern="*", format="x12", message="846")
    with pytest.raises(FeedError, match="segment 3: transaction set 852 where this feed expects 846"):
        parse(write(tmp_path, PRODUCT_ACTIVITY), spec)


def test_empty_and_utf16_files_are_refused(tmp_path):
    with pytest.raises(FeedError, match="empty file"):
        parse(write(tmp_path, "", "empty.x12"))
    with pytest.raises(FeedError, match="unsupported encoding: UTF-16"):
        parse(write(tmp_path, PRODUCT_ACTIVITY, "wide.x12", encoding="utf-16"))


def test_interchange_without_items_is_refused(tmp_path):
    text = (
        "ISA*00*          *00*          *ZZ*A              *ZZ*B              *250623*0215*U*00401*000000001*0*P*>~"
        "GS*PD*A*B*20250623*0215*1*X*004010~ST*852*0001~XQ*H*20250616~SE*3*0001~GE*1*1~IEA*1*000000001~"
    )
    with pytest.raises(FeedError, match="no line items"):
        parse(write(tmp_path, text))
