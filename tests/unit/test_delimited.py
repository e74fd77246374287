"""Delimited partner files: every dialect parses to canonical rows; bad files and lines are named."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets.feeds.contracts import RAW_FEED_COLUMNS, REJECT_COLUMNS
from assets.feeds.errors import FeedError
from assets.feeds.parsers.delimited import parse_delimited
from assets.feeds.partner_config import load_partner_configs

CONFIG_DIR = Path(__file__).resolve().parents[2] / "data" / "partners"
CONFIGS = load_partner_configs(CONFIG_DIR)


def spec(partner_id: str, record_type: str):
    return CONFIGS[partner_id].specs_for(record_type)[0]


def write(folder: Path, name: str, text: str, encoding: str) -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def parse(path: Path, partner_id: str, record_type: str):
    return parse_delimited(
        path,
        spec(partner_id, record_type),
        partner_id,
        "file-1",
        default_currency=CONFIGS[partner_id].currency,
    )


REDWOOD_SALES = (
    "store_nbr,upc,business_date,units_sold,units_returned,net_sales_usd,on_promo\n"
    "1042,084215010016,2025-06-28,7,0,83.65,N\n"
    "1042,084215010023, 2025-06-28 ,12,1,140.10,Y\n"
    "2231,084215010023,2025-06-28,-2,2,-28.02,\n"
)

HANSA_SALES = (
    "Filiale;EAN;Datum;Verkaufsmenge;Retouren;Umsatz\r\n"
    "F012;0084215010016;28.06.2025;4;;1.234,56\r\n"
    "F027;0084215010023;29.06.2025;1;0;13,09\r\n"
)

HUAXIN_STOCK = (
    "门店编号\t商品编码\t商品名称\t日期\t库存数量\n"
    "SH001\tHX-031648\t苏打矿泉水1升\t2025/06/28\t30\n"
    "HZ001\tHX-039567\t橙汁1升\t2025/6/29\t0\n"
)


def test_redwood_utf8_comma_csv_with_promo_flags(tmp_path):
    result = parse(write(tmp_path, "sales_20250628.csv", REDWOOD_SALES, "utf-8"), "redwood_grocers", "sales")
    rows = result.rows
    assert list(rows.columns) == list(RAW_FEED_COLUMNS["sales"])
    assert list(result.rejects.columns) == list(REJECT_COLUMNS)
    assert len(rows) == 3 and len(result.rejects) == 0
    assert rows["product_ref"].tolist() == ["084215010016", "084215010023", "084215010023"]
    assert rows["location_id"].tolist() == ["1042", "1042", "2231"]
    assert rows["period_start"].dt.date.tolist() == [date(2025, 6, 28)] * 3
    assert (rows["period_end"] == rows["period_start"]).all()
    assert rows["units_sold"].tolist() == [7.0, 12.0, -2.0], "negative sales are returns, kept as sent"
    assert rows["units_returned"].tolist() == [0.0, 1.0, 2.0]
    assert rows["net_sales_amount"].tolist() == pytest.approx([83.65, 140.10, -28.02])
    assert rows["promo_flag"].tolist() == [False, True, pd.NA]
    assert set(rows["currency"]) == {"USD"}
    assert set(rows["partner_id"]) == {"redwood_grocers"} and set(rows["source_file_id"]) == {"file-1"}
    assert rows["source_line"].tolist() == [2, 3, 4]
    assert rows["units_sold"].dtype == np.float64


def test_hansa_bom_semicolon_decimal_comma_and_german_dates(tmp_path):
    path = write(tmp_path, "Abverkauf_20250629.csv", HANSA_SALES, "utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = parse(path, "hansa_handel", "sales").rows
    assert rows["location_id"].tolist() == ["F012", "F027"]
    assert rows["product_ref"].tolist() == ["0084215010016", "0084215010023"]
    assert rows["period_start"].dt.date.tolist() == [date(2025, 6, 28), date(2025, 6, 29)]
    assert rows["net_sales_amount"].tolist() == pytest.approx([1234.56, 13.09])
    assert rows["units_returned"].tolist() == [0.0, 0.0], "a blank optional quantity defaults to zero"
    assert set(rows["currency"]) == {"EUR"}
    assert rows["promo_flag"].isna().all()


def test_huaxin_gbk_tab_file_with_chinese_headers_and_extra_column(tmp_path):
    path = write(tmp_path, "kucun_20250629.txt", HUAXIN_STOCK, "gbk")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    rows = parse(path, "huaxin_retail", "stock").rows
    assert list(rows.columns) == list(RAW_FEED_COLUMNS["stock"])
    assert rows["location_id"].tolist() == ["SH001", "HZ001"]
    assert rows["product_ref"].tolist() == ["HX-031648", "HX-039567"]
    assert rows["as_of_date"].dt.date.tolist() == [date(2025, 6, 28), date(2025, 6, 29)]
    assert rows["on_hand_qty"].tolist() == [30.0, 0.0]
    assert rows["on_order_qty"].tolist() == [0.0, 0.0]
    assert rows["in_transit_qty"].tolist() == [0.0, 0.0]
    assert rows["uom"].tolist() == ["EA", "EA"]


def test_forecast_file_parses_week_buckets(tmp_path):
    text = (
        "Filiale;EAN;Erstellt am;Woche von;Woche bis;Prognosemenge\r\n"
        "F012;0084215010016;30.06.2025;30.06.2025;06.07.2025;1.046,9\r\n"
    )
    rows = parse(write(tmp_path, "Prognose_20250630.csv", text, "utf-8-sig"), "hansa_handel", "forecast").rows
    assert list(rows.columns) == list(RAW_FEED_COLUMNS["forecast"])
    record = rows.iloc[0]
    assert record["forecast_date"].date() == date(2025, 6, 30)
    assert (record["target_period_start"].date(), record["target_period_end"].date()) == (
        date(2025, 6, 30),
        date(2025, 7, 6),
    )
    assert record["forecast_qty"] == pytest.approx(1046.9)


def test_row_rejects_carry_physical_line_numbers_and_reasons(tmp_path):
    text = (
        "Filiale;EAN;Datum;Verkaufsmenge;Retouren;Umsatz\r\n"
        "F012;0084215010016;28.06.2025;4;0;10,00\r\n"
        "\r\n"
        "F012;0084215010016;31.02.2025;4;0;10,00\r\n"
        "F012;0084215010016;28.06.2025;vier;0;10,00\r\n"
        ";0084215010016;28.06.2025;4;0;10,00\r\n"
        "F012; ;28.06.2025;4;0;10,00\r\n"
        "F027;0084215010023;29.06.2025;-3;0;-5,00\r\n"
    )
    result = parse(write(tmp_path, "Abverkauf_x.csv", text, "utf-8-sig"), "hansa_handel", "sales")
    assert result.rows["source_line"].tolist() == [2, 8]
    assert result.rows["units_sold"].tolist() == [4.0, -3.0]
    rejects = result.rejects
    assert rejects["source_line"].tolist() == [4, 5, 6, 7]
    reasons = rejects["reason"].tolist()
    assert reasons[0] == "bad date '31.02.2025' for format %d.%m.%Y in period_start (Datum)"
    assert reasons[1] == "bad number 'vier' in units_sold (Verkaufsmenge)"
    assert reasons[2] == "missing location_id (Filiale)"
    assert reasons[3] == "missing product_ref (EAN)"
    assert rejects["raw_record"].iloc[0] == "F012;0084215010016;31.02.2025;4;0;10,00"
    assert set(rejects["partner_id"]) == {"hansa_handel"} and set(rejects["record_type"]) == {"sales"}


def test_ragged_and_multi_line_records_keep_exact_line_numbers(tmp_path):
    text = (
        "store_nbr,upc,inventory_date,on_hand_units\n"
        '1042,"084215010016",2025-06-28,5\n'
        '"10\n42",084215010023,2025-06-28,6\n'
        "1042,084215010030,2025-06-28,7,extra\n"
        "1042,084215010047,2025-06-28,8\n"
        "1042,084215010054,2025-06-28,9,\n"
    )
    result = parse(write(tmp_path, "inventory_x.csv", text, "utf-8"), "redwood_grocers", "stock")
    assert result.rows["source_line"].tolist() == [2, 3, 6, 7]
    assert result.rows["on_hand_qty"].tolist() == [5.0, 6.0, 8.0, 9.0]
    assert result.rows["location_id"].iloc[1] == "10\n42"
    assert result.rejects["source_line"].tolist() == [5]
    assert result.rejects["reason"].iloc[0] == "expected 4 fields, found 5"


def test_sap_style_trailing_minus_and_blank_amount(tmp_path):
    text = "Filiale;EAN;Datum;Verkaufsmenge;Retouren;Umsatz\r\nF012;0084215010016;28.06.2025;2-;0;\r\n"
    rows = parse(write(tmp_path, "Abverkauf_x.csv", text, "utf-8-sig"), "hansa_handel", "sales").rows
    assert rows["units_sold"].tolist() == [-2.0]
    assert math.isnan(rows["net_sales_amount"].iloc[0])


def test_headers_match_case_insensitively_and_ignore_surrounding_spaces(tmp_path):
    text = " STORE_NBR , UPC ,Inventory_Date,on_hand_units\n1042,084215010016,2025-06-28,5\n"
    rows = parse(write(tmp_path, "inventory_x.csv", text, "utf-8"), "redwood_grocers", "stock").rows
    assert rows["on_hand_qty"].tolist() == [5.0]


def test_gtin_refs_can_be_verified_or_normalised(tmp_path):
    import dataclasses

    text = (
        "store_nbr,upc,inventory_date,on_hand_units\n1042,084215010016,2025-06-28,5\n1042,084215010017,2025-06-28,6\n"
    )
    path = write(tmp_path, "inventory_x.csv", text, "utf-8")
    for mode, ref in (("verify", "084215010016"), ("normalise", "00084215010016")):
        gtin_spec = dataclasses.replace(spec("redwood_grocers", "stock"), gtin=mode)
        result = parse_delimited(path, gtin_spec, "redwood_grocers", "file-1")
        assert result.rows["product_ref"].tolist() == [ref]
        assert result.rejects["reason"].tolist() == [
            "GTIN '084215010017' has check digit 7, expected 6 in product_ref (upc)"
        ]
        assert result.rejects["source_line"].tolist() == [3]


# --- file-level errors -------------------------------------------------------------------------------------


def test_empty_file_is_a_feed_error(tmp_path):
    path = write(tmp_path, "inventory_x.csv", "", "utf-8")
    with pytest.raises(FeedError) as error:
        parse(path, "redwood_grocers", "stock")
    assert error.value.path == path and error.value.location is None
    assert str(error.value) == f"{path}: empty file (0 bytes)"


def test_utf16_file_where_gbk_is_configured_names_encoding_offset_and_line(tmp_path):
    path = write(tmp_path, "xiaoshou_20250629.txt", HUAXIN_STOCK, "utf-16")
    with pytest.raises(FeedError) as error:
        parse(path, "huaxin_retail", "stock")
    message = str(error.value)
    assert message.startswith(f"{path}: line 1: cannot decode as gbk at byte offset 0")
    assert "UTF-16 byte order mark" in message


def test_undecodable_byte_later_in_the_file_names_its_line(tmp_path):
    data = HUAXIN_STOCK.encode("gbk") + b"NJ001\tHX-1\t\xff\xfe\t2025/06/29\t1\n"
    path = tmp_path / "kucun_x.txt"
    path.write_bytes(data)
    with pytest.raises(FeedError) as error:
        parse(path, "huaxin_retail", "stock")
    offset = data.index(b"\xff")
    assert error.value.location == "line 4"
    assert f"byte offset {offset}" in error.value.reason


def test_missing_required_header_names_it_and_lists_found_headers(tmp_path):
    text = "Filiale;EAN;Datum;Menge\r\nF012;0084215010016;28.06.2025;4\r\n"
    path = write(tmp_path, "Bestand_x.csv", text, "utf-8-sig")
    with pytest.raises(FeedError) as error:
        parse(path, "hansa_handel", "stock")
    assert error.value.location == "line 1"
    assert str(error.value) == (
        f"{path}: line 1: missing required column(s) 'Bestand' (on_hand_qty); "
        "found headers: 'Filiale', 'EAN', 'Datum', 'Menge'"
    )


def test_wrong_delimiter_shows_the_single_header_found(tmp_path):
    path = write(tmp_path, "Bestand_x.csv", "Filiale,EAN,Datum,Bestand\r\nF012,1,28.06.2025,4\r\n", "utf-8-sig")
    with pytest.raises(FeedError, match="found headers: 'Filiale,EAN,Datum,Bestand'"):
        parse(path, "hansa_handel", "stock")


@pytest.mark.parametrize(
    "body",
    ["store_nbr,upc,inventory_date,on_hand_units\n", "store_nbr,upc,inventory_date,on_hand_units\n\n\n"],
)
def test_header_without_data_rows_is_a_feed_error(tmp_path, body):
    path = write(tmp_path, "inventory_x.csv", body, "utf-8")
    with pytest.raises(FeedError) as error:
        parse(path, "redwood_grocers", "stock")
    assert str(error.value) == f"{path}: no data rows after the header line"


def test_blank_text_is_an_empty_file(tmp_path):
    path = write(tmp_path, "inventory_x.csv", "\ufeff \n\n", "utf-8")
    with pytest.raises(FeedError, match="empty file"):
        parse(path, "redwood_grocers", "stock")


# --- properties -------------------------------------------------------------------------------------------


def german_amount(value: float) -> str:
    return f"{value:,.2f}".replace(",", "\0").replace(".", ",").replace("\0", ".")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    amounts=st.lists(
        st.floats(min_value=-1e7, max_value=1e7, allow_nan=False).map(lambda value: round(value, 2)),
        min_size=1,
        max_size=30,
    ),
    blank_lines=st.lists(st.integers(min_value=0, max_value=30), max_size=5),
)
def test_german_amounts_round_trip_and_lines_stay_physical(tmp_path, amounts, blank_lines):
    lines = ["Filiale;EAN;Datum;Verkaufsmenge;Retouren;Umsatz"]
    expected_lines = []
    for index, amount in enumerate(amounts):
        if index in blank_lines:
            lines.append("")
        lines.append(f"F012;0084215010016;28.06.2025;{index};0;{german_amount(amount)}")
        expected_lines.append(len(lines))
    path = write(tmp_path, "Abverkauf_p.csv", "\r\n".join(lines) + "\r\n", "utf-8-sig")
    result = parse(path, "hansa_handel", "sales")
    assert len(result.rejects) == 0
    assert result.rows["net_sales_amount"].tolist() == pytest.approx(amounts, abs=1e-6)
    assert result.rows["source_line"].tolist() == expected_lines
    assert result.rows["units_sold"].tolist() == [float(index) for index in range(len(amounts))]


FIELD = st.text(alphabet=st.sampled_from(list("AZ09 .,-/;\u00e4\u5e97")), max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(st.lists(FIELD, min_size=0, max_size=8), min_size=1, max_size=25))
def test_every_non_blank_line_becomes_a_row_or_a_reject(tmp_path, records):
    header = "Filiale;EAN;Datum;Verkaufsmenge;Retouren;Umsatz"
    lines = [header, *(";".join(fields) for fields in records)]
    path = write(tmp_path, "Abverkauf_f.csv", "\r\n".join(lines) + "\r\n", "utf-8-sig")
    data_lines = [number for number, line in enumerate(lines, start=1) if number > 1 and line.strip(" ;")]
    try:
        result = parse(path, "hansa_handel", "sales")
    except FeedError as error:
        assert not data_lines and "no data rows" in str(error)
        return
    accepted = result.rows["source_line"].tolist()
    rejected = result.rejects["source_line"].tolist()
    assert sorted(accepted + rejected) == data_lines
    assert (result.rows["location_id"].str.len() > 0).all()
    assert (result.rejects["reason"].str.len() > 0).all()
