"""Excel workbooks and JSON exports: the partner's column mapping, typed cells, row numbers and clear errors."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from assets.feeds.contracts import RAW_FEED_COLUMNS
from assets.feeds.errors import FeedError
from assets.feeds.parsers.tabular import parse_excel, parse_json
from assets.feeds.partner_config import FileSpec, load_partner_configs

CONFIG_DIR = Path(__file__).resolve().parents[2] / "data" / "partners"
HUAXIN = load_partner_configs(CONFIG_DIR)["huaxin_retail"]
EXCEL_SPEC = next(spec for spec in HUAXIN.files if spec.format == "xlsx")
JSON_SPEC = next(spec for spec in HUAXIN.files if spec.format == "json")


def workbook(folder: Path, rows: list[list], sheet: str = "库存日报", name: str = "kucun_20250629.xlsx") -> Path:
    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active.append(["本文件由门店系统导出"])
    target = book.create_sheet(sheet)
    for row in rows:
        target.append(row)
    path = folder / name
    book.save(path)
    return path


HEADER = ["门店编号", "商品编码", "商品名称", "日期", "库存数量"]
TITLE = [["华信零售 库存日报", "2025/06/29"], []]


def parse_sheet(path: Path, spec: FileSpec = EXCEL_SPEC):
    return parse_excel(path, spec, "huaxin_retail", "file-1", default_currency="CNY")


def test_named_sheet_with_title_rows_and_typed_cells(tmp_path):
    path = workbook(
        tmp_path,
        [
            *TITLE,
            HEADER,
            ["SH001", "HX-031648", "苏打矿泉水1升", datetime(2025, 6, 29), 30],
            ["SH002", "HX-039567", "橙汁1升", "2025/06/29", 12.0],
            [None, None, None, None, None],
            ["HZ001", "HX-039567", "橙汁1升", date(2025, 6, 29), 2.5],
        ],
    )
    result = parse_sheet(path)
    rows = result.rows
    assert list(rows.columns) == list(RAW_FEED_COLUMNS["stock"])
    assert rows["location_id"].tolist() == ["SH001", "SH002", "HZ001"]
    assert rows["as_of_date"].dt.date.tolist() == [date(2025, 6, 29)] * 3, "date cells and date text alike"
    assert rows["on_hand_qty"].tolist() == [30.0, 12.0, 2.5]
    assert rows["source_line"].tolist() == [4, 5, 7], "worksheet row numbers; the blank row is skipped"
    assert set(rows["uom"]) == {"EA"} and result.rows_rejected == 0


def test_bad_cells_are_rejected_with_their_row(tmp_path):
    path = workbook(
        tmp_path,
        [
            *TITLE,
            HEADER,
            ["SH001", "HX-031648", "苏打矿泉水1升", "29.06.2025", 30],
            ["SH001", "HX-031648", "苏打矿泉水1升", datetime(2025, 6, 29), "三十"],
            ["SH001", "HX-031648", "苏打矿泉水1升", datetime(2025, 6, 29), 3, "多余"],
        ],
    )
    result = parse_sheet(path)
    assert result.rows_parsed == 0
    rejects = result.rejects
    assert rejects["source_line"].tolist() == [4, 5, 6]
    assert rejects["reason"].tolist() == [
        "bad date '29.06.2025' for format %Y/%m/%d in as_of_date (日期)",
        "bad number '三十' in on_hand_qty (库存数量)",
        "value in column F, right of the last header column",
    ]
    assert rejects["raw_record"].iloc[1] == "SH001\tHX-031648\t苏打矿泉水1升\t2025/06/29\t三十"


def test_missing_sheet_header_or_column_names_the_place(tmp_path):
    with pytest.raises(FeedError, match="no sheet '库存日报' in the workbook \\(sheets: '说明', 'Sheet'\\)"):
        parse_sheet(workbook(tmp_path, [HEADER], sheet="Sheet"))
    with pytest.raises(FeedError) as error:
        parse_sheet(workbook(tmp_path, [*TITLE, ["门店编号", "商品编码", "日期"], ["SH001", "HX-1", "2025/06/29"]]))
    assert error.value.location == "sheet '库存日报' row 3"
    assert "missing required column(s) '库存数量' (on_hand_qty)" in error.value.reason
    with pytest.raises(FeedError, match="no header row: the sheet has 1 rows"):
        parse_sheet(workbook(tmp_path, [["only a title"]]))
    with pytest.raises(FeedError, match="no data rows after the header row"):
        parse_sheet(workbook(tmp_path, [*TITLE, HEADER]))


def test_not_a_workbook_and_empty_file(tmp_path):
    text = tmp_path / "kucun_x.xlsx"
    text.write_text("门店编号\t商品编码\n", encoding="utf-8")
    with pytest.raises(FeedError, match="not a readable Excel workbook"):
        parse_sheet(text)
    empty = tmp_path / "kucun_y.xlsx"
    empty.write_bytes(b"")
    with pytest.raises(FeedError, match="empty file"):
        parse_sheet(empty)


def test_first_sheet_is_read_when_none_is_named(tmp_path):
    spec = FileSpec(
        record_type="stock",
        pattern="*.xlsx",
        format="xlsx",
        columns={"location_id": "store", "product_ref": "gtin", "as_of_date": "day", "on_hand_qty": "qty"},
        gtin="normalise",
    )
    book = openpyxl.Workbook()
    book.active.append(["store", "gtin", "day", "qty"])
    book.active.append(["S1", "084215010016", "2025-06-29", 1])
    book.active.append(["S1", 84215010017, "2025-06-29", 1])
    path = tmp_path / "stock.xlsx"
    book.save(path)
    result = parse_excel(path, spec, "p", "f")
    assert result.rows["product_ref"].tolist() == ["00084215010016"]
    (reason,) = result.rejects["reason"].tolist()
    assert reason.startswith("GTIN '84215010017' has 11 digits (expected 12 for UPC-A, 13 for EAN-13 or 14")
    assert reason.endswith("in product_ref (gtin)"), "a number cell keeps no leading zero: a GTIN column wants text"


# --- JSON ---------------------------------------------------------------------------------------------------


EXPORT = {
    "exported_at": "2025-06-30T05:13:00",
    "data": {
        "records": [
            {
                "门店": {"编号": "SH001", "名称": "徐汇店"},
                "商品": {"编码": "HX-071243"},
                "日期": "2025-06-29",
                "销售": {"数量": 22, "退货数量": 0, "金额": 183.74},
            },
            {
                "门店": {"编号": "SH002"},
                "商品": {"编码": "HX-095000"},
                "日期": "2025-06-29",
                "销售": {"数量": 3, "金额": 17.4},
            },
            {"门店": {"编号": "SH002"}, "商品": {"编码": "HX-1"}, "日期": "29/06/2025", "销售": {"数量": "两"}},
            ["not", "a", "record"],
        ]
    },
}


def write_json(folder: Path, document, name: str = "xiaoshou_20250629.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def parse_export(path: Path, spec: FileSpec = JSON_SPEC):
    return parse_json(path, spec, "huaxin_retail", "file-1", default_currency="CNY")


def test_nested_records_at_a_records_path(tmp_path):
    result = parse_export(write_json(tmp_path, EXPORT))
    rows = result.rows
    assert list(rows.columns) == list(RAW_FEED_COLUMNS["sales"])
    assert rows["location_id"].tolist() == ["SH001", "SH002"]
    assert rows["product_ref"].tolist() == ["HX-071243", "HX-095000"]
    assert rows["units_sold"].tolist() == [22.0, 3.0]
    assert rows["units_returned"].tolist() == [0.0, 0.0], "an absent optional field takes its default"
    assert rows["net_sales_amount"].tolist() == pytest.approx([183.74, 17.4])
    assert rows["period_start"].dt.date.tolist() == [date(2025, 6, 29)] * 2
    assert set(rows["currency"]) == {"CNY"}
    assert rows["source_line"].tolist() == [1, 2], "record numbers"
    rejects = result.rejects
    assert rejects["source_line"].tolist() == [3, 4]
    assert rejects["reason"].tolist() == [
        "bad date '29/06/2025' for format %Y-%m-%d in period_start (日期); bad number '两' in units_sold (销售.数量)",
        "record is not an object but list",
    ]
    assert json.loads(rejects["raw_record"].iloc[0])["销售"] == {"数量": "两"}


def test_top_level_list_and_json_lines(tmp_path):
    spec = FileSpec(
        record_type="stock",
        pattern="*.json",
        format="json",
        columns={"location_id": "store", "product_ref": "item", "as_of_date": "day", "on_hand_qty": "on_hand"},
    )
    records = [{"store": "S1", "item": "A", "day": "2025-06-29", "on_hand": 4}, {"store": "S2", "item": "A"}]
    result = parse_json(write_json(tmp_path, records, "a.json"), spec, "p", "f")
    assert result.rows["on_hand_qty"].tolist() == [4.0]
    assert result.rejects["reason"].tolist() == [
        "missing as_of_date (day); missing on_hand_qty (on_hand)",
    ]
    lines = tmp_path / "b.json"
    lines.write_text("\n".join(json.dumps(record) for record in records[:1] * 2) + "\n\n", encoding="utf-8")
    result = parse_json(lines, spec, "p", "f")
    assert result.rows["source_line"].tolist() == [1, 2], "JSON Lines count physical lines"


def test_a_sales_export_may_carry_receipts_and_stock_outs(tmp_path):
    spec = FileSpec(
        record_type="sales",
        pattern="*.json",
        format="json",
        decimal=",",
        columns={
            "location_id": "store",
            "product_ref": "item",
            "period_start": "from",
            "period_end": "to",
            "units_sold": "sold",
            "units_received": "goods_in",
            "units_out_of_stock": "lost_sales",
        },
    )
    records = [
        {"store": "S1", "item": "A", "from": "2025-06-16", "to": "2025-06-22", "sold": 30, "goods_in": 24},
        {"store": "S2", "item": "A", "from": "2025-06-16", "to": "2025-06-22", "sold": 7, "lost_sales": "2,5"},
        {"store": "S3", "item": "A", "from": "2025-06-16", "to": "2025-06-22", "sold": 1, "goods_in": "x"},
    ]
    result = parse_json(write_json(tmp_path, records, "weekly.json"), spec, "p", "f")
    rows = result.rows
    assert rows["units_received"].tolist()[0] == 24.0 and rows["units_received"].isna().tolist() == [False, True]
    assert rows["units_out_of_stock"].isna().tolist() == [True, False]
    assert rows["units_out_of_stock"].tolist()[1] == 2.5, "the partner's decimal comma"
    assert result.rejects["reason"].tolist() == ["bad number 'x' in units_received (goods_in)"]


@pytest.mark.parametrize(
    ("text", "location", "fragment"),
    [
        ('{"data": {"records": [{"a": 1},]}}', "line 1", "invalid JSON"),
        ('{"data": {"rows": []}}', None, "records_path 'data.records': no 'data.records' (found: rows)"),
        ('{"data": {"records": {"a": 1}}}', None, "expected a list of records at 'data.records', found dict"),
        ('{"data": {"records": []}}', None, "no records at 'data.records'"),
        ("", None, "empty file (0 bytes)"),
    ],
)
def test_unusable_json_is_a_feed_error(tmp_path, text, location, fragment):
    path = tmp_path / "xiaoshou_x.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FeedError) as error:
        parse_export(path)
    assert error.value.location == location
    assert fragment in error.value.reason
