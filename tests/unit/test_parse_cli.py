"""`cmi parse`: canonical rows as JSON Lines for any format; one clear stderr line and exit 2 for a bad file."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from assets.feeds.contracts import RAW_FEED_COLUMNS
from orchestration.cli import build_parser, main
from orchestration.runtime import settings

CONFIG_DIR = Path(__file__).resolve().parents[2] / "data" / "partners"

WEEKLY_852 = (
    "ISA*00*          *00*          *ZZ*REDWOODGROC    *ZZ*084215000000   *250623*0215*U*00401*000000412*0*P*>~\n"
    "GS*PD*REDWOODGROC*084215000000*20250623*0215*412*X*004010~\n"
    "ST*852*0001~\nXQ*H*20250616*20250622~\nLIN**UP*084215010016~\n"
    "ZA*QS~\nSDQ*EA*92*1042*48*1107*37~\nZA*QA~\nSDQ*EA*92*1042*26*1107*90~\n"
    "CTT*1~\nSE*9*0001~\nGE*1*412~\nIEA*1*000000412~\n"
)
SLSRPT = (
    "UNA:+.? '\nUNB+UNOC:3+4012345000009:14+0842150000000:14+250630:0315+HH00000123++SLSRPT'\n"
    "UNH+1+SLSRPT:D:01B:UN:EAN008'\nDTM+137:20250630:102'\nDTM+356:20250629:102'\nDTM+357:20250629:102'\n"
    "LOC+162+F012::92'\nLIN+1++0084215010016:EN'\nQTY+153:4'\nCNT+2:1'\nUNT+9+1'\nUNZ+1+HH00000123'\n"
)


@pytest.fixture(autouse=True)
def committed_configs(monkeypatch):
    monkeypatch.setenv(settings.PARTNER_CONFIG_ENV, str(CONFIG_DIR))


def run(capsys, *argv: str) -> tuple[int, list[dict], list[str]]:
    code = main(["parse", *argv])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err.splitlines()


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def test_parse_is_registered_as_a_cmi_command():
    assert "parse" in build_parser().format_help()


def test_x12_without_partner_uses_the_default_activity_codes(tmp_path, capsys):
    code, rows, err = run(capsys, str(write(tmp_path, "weekly.edi", WEEKLY_852)))
    assert code == 0 and len(err) == 1 and ": account: " in err[0] and "0 unused" in err[0]
    assert [row["record_type"] for row in rows] == ["stock", "stock", "sales", "sales"]
    sales = rows[2]
    assert list(sales) == ["record_type", *RAW_FEED_COLUMNS["sales"]]
    assert (sales["location_id"], sales["product_ref"], sales["units_sold"]) == ("1042", "00084215010016", 48.0)
    assert (sales["period_start"], sales["period_end"]) == ("2025-06-16", "2025-06-22")
    assert sales["partner_id"] is None and sales["net_sales_amount"] is None and sales["source_line"] == 7
    assert len(sales["source_file_id"]) == 64
    assert (rows[1]["location_id"], rows[1]["on_hand_qty"], rows[1]["as_of_date"]) == ("1107", 90.0, "2025-06-22")


def test_an_852_shows_its_receipts_and_stock_outs_with_the_default_codes_and_the_partners(tmp_path, capsys):
    text = WEEKLY_852.replace("ZA*QA~", "ZA*QR~\nSDQ*EA*92*1042*24~\nZA*QO~\nSDQ*EA*92*1107*5~\nZA*QA~")
    text = text.replace("SE*9*0001", "SE*13*0001")
    path = write(tmp_path, "852_20250616_20250622.x12", text)
    for partner in ([], ["--partner", "redwood_grocers"]):
        code, rows, err = run(capsys, str(path), *partner)
        assert code == 0 and [line for line in err if ": account: " not in line] == []
        sales = {row["location_id"]: row for row in rows if row["record_type"] == "sales"}
        assert (sales["1042"]["units_received"], sales["1042"]["units_out_of_stock"]) == (24.0, None)
        assert (sales["1107"]["units_received"], sales["1107"]["units_out_of_stock"]) == (None, 5.0)


def test_csv_without_partner_needs_canonical_column_names(tmp_path, capsys):
    text = "location_id;product_ref;period_start;units_sold;net_sales_amount\nS1;A-1;2025-06-29;3;9.5\n"
    code, rows, _ = run(capsys, str(write(tmp_path, "sales.csv", text, "utf-8-sig")))
    assert code == 0
    assert rows == [
        {
            "record_type": "sales",
            "partner_id": None,
            "location_id": "S1",
            "product_ref": "A-1",
            "period_start": "2025-06-29",
            "period_end": "2025-06-29",
            "units_sold": 3.0,
            "units_returned": 0.0,
            "net_sales_amount": 9.5,
            "currency": None,
            "promo_flag": None,
            "source_file_id": rows[0]["source_file_id"],
            "source_line": 2,
            "units_received": None,
            "units_out_of_stock": None,
            "uom": "EA",
            "merged_lines": None,
        }
    ]
    code, rows, err = run(capsys, str(write(tmp_path, "other.csv", "store,item\n1,2\n")))
    assert (code, rows, len(err)) == (2, [], 1)
    assert err[0].startswith(f"{tmp_path / 'other.csv'}: line 1: no canonical column names found")


def test_partner_config_reads_its_dialects_by_name_and_by_format(tmp_path, capsys):
    bestand = write(
        tmp_path,
        "Bestand_20250629.csv",
        "Filiale;EAN;Datum;Bestand\r\nF012;0084215010016;29.06.2025;1.204\r\n",
        "utf-8-sig",
    )
    code, rows, _ = run(capsys, str(bestand), "--partner", "hansa_handel")
    assert code == 0 and rows[0]["on_hand_qty"] == 1204.0 and rows[0]["partner_id"] == "hansa_handel"
    code, rows, _ = run(capsys, str(write(tmp_path, "from_the_van.txt", SLSRPT)), "--partner", "hansa_handel")
    assert code == 0
    assert (rows[0]["record_type"], rows[0]["units_sold"], rows[0]["currency"]) == ("sales", 4.0, "EUR")


def test_excel_and_json_are_detected(tmp_path, capsys):
    book = openpyxl.Workbook()
    book.active.title = "库存日报"
    for row in (
        ["华信零售 库存日报"],
        [],
        ["门店编号", "商品编码", "日期", "库存数量"],
        ["SH001", "HX-1", "2025/06/29", 7],
    ):
        book.active.append(row)
    path = tmp_path / "kucun_20250629.xlsx"
    book.save(path)
    code, rows, _ = run(capsys, str(path), "--partner", "huaxin_retail")
    assert (code, rows[0]["on_hand_qty"], rows[0]["source_line"]) == (0, 7.0, 4)
    export = {
        "data": {
            "records": [
                {"门店": {"编号": "SH001"}, "商品": {"编码": "HX-1"}, "日期": "2025-06-29", "销售": {"数量": 2}}
            ]
        }
    }
    path = write(tmp_path, "xiaoshou_20250629.json", json.dumps(export, ensure_ascii=False))
    code, rows, _ = run(capsys, str(path), "--partner", "huaxin_retail")
    assert (code, rows[0]["units_sold"], rows[0]["location_id"]) == (0, 2.0, "SH001")
    canonical = [{"location_id": "S1", "product_ref": "A", "as_of_date": "2025-06-29", "on_hand_qty": 1}]
    code, rows, _ = run(capsys, str(write(tmp_path, "plain.json", json.dumps({"records": canonical}))))
    assert (code, rows[0]["record_type"], rows[0]["on_hand_qty"]) == (0, "stock", 1.0)


def test_rejected_rows_go_to_stderr_with_exit_code_1(tmp_path, capsys):
    text = WEEKLY_852.replace("LIN**UP*084215010016", "LIN**UP*084215010017")
    path = write(tmp_path, "weekly.edi", text)
    code, rows, err = run(capsys, str(path))
    assert (code, rows) == (1, [])
    assert len(err) == 6, "four rejects, the account and why nothing can load"
    assert "0 loaded (sum 0)" in err[4] and err[5].startswith(f"{path}: no usable rows: every row rejected")
    assert err[0] == (
        f"{path}: segment 7: rejected sales row: "
        "GTIN '084215010017' has check digit 7, expected 6 (LIN UP at segment 5)"
    )


@pytest.mark.parametrize(
    ("name", "text", "argv", "message"),
    [
        (
            "weekly.edi",
            WEEKLY_852.replace("SE*9*", "SE*8*"),
            (),
            "segment 11: SE01 says 8 segments but transaction set",
        ),
        ("weekly.edi", WEEKLY_852[:-30], (), "interchange is truncated"),
        ("sales.edi", SLSRPT.replace("UNT+9", "UNT+7"), (), "segment 11: UNT says 7 segments but message 1 has 9"),
        ("empty.csv", "", (), "empty file (0 bytes)"),
        ("x.csv", "a,b\n", ("--partner", "nobody"), "unknown partner 'nobody' (configured: hansa_handel, "),
        ("Bestand_1.csv", "Filiale;EAN\r\n", ("--partner", "hansa_handel"), "line 1: missing required column(s)"),
        ("x.csv", "a,b\n", ("--partner", "hansa_handel", "--format", "xlsx"), "hansa_handel sends no xlsx files"),
    ],
)
def test_an_unusable_file_gives_one_stderr_line_and_exit_code_2(tmp_path, capsys, name, text, argv, message):
    path = write(tmp_path, name, text)
    code, rows, err = run(capsys, str(path), *argv)
    assert (code, rows, len(err)) == (2, [], 1)
    assert err[0].startswith(f"{path}: ")
    assert message in err[0]


def test_a_missing_file_is_exit_code_2(tmp_path, capsys):
    code, _, err = run(capsys, str(tmp_path / "nowhere.csv"))
    assert code == 2 and err == [f"{tmp_path / 'nowhere.csv'}: no such file"]


def test_a_parser_crash_is_one_line_with_the_exception_and_where_it_was_raised(tmp_path, capsys, monkeypatch):
    import assets.feeds.parsers.detect as detect

    def crash(*args, **kwargs):
        raise KeyError("surprise")

    monkeypatch.setitem(detect.PARSERS, "x12", crash)
    path = tmp_path / "weekly.x12"
    path.write_text(WEEKLY_852)
    code, rows, err = run(capsys, str(path))
    assert code == 2 and rows == []
    assert len(err) == 1
    assert err[0].startswith(f"{path}: parser crashed: KeyError: 'surprise' (at tests/unit/test_parse_cli.py:")


def test_json_nested_too_deep_is_refused_by_its_limit_in_one_line(tmp_path, capsys):
    path = tmp_path / "deep.json"
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    code, _, err = run(capsys, str(path))
    assert code == 2 and len(err) == 1
    assert "json_max_depth" in err[0]


def test_another_partners_broken_yaml_does_not_stop_parse_for_this_partner(tmp_path, capsys, monkeypatch):
    configs = tmp_path / "partners"
    configs.mkdir()
    (configs / "redwood_grocers.yaml").write_text((CONFIG_DIR / "redwood_grocers.yaml").read_text())
    (configs / "hansa_handel.yaml").write_text("partner_id: hansa_handel\nname: !!python/object/apply:os.system [id]\n")
    monkeypatch.setenv(settings.PARTNER_CONFIG_ENV, str(configs))
    path = tmp_path / "852_20250623.x12"
    path.write_text(WEEKLY_852)
    code, rows, _ = run(capsys, str(path), "--partner", "redwood_grocers")
    assert code == 0 and rows


def test_each_interchange_of_a_file_gets_its_line_when_one_is_refused(tmp_path, capsys):
    second = WEEKLY_852.replace("000000412", "000000413").replace("*412*", "*413*").replace("GE*1*412", "GE*1*413")
    path = write(tmp_path, "weekly.edi", WEEKLY_852 + second.replace("SE*9*0001", "SE*8*0001"))
    code, rows, err = run(capsys, str(path))
    assert code == 1 and len(rows) == 4, "the first interchange loads"
    assert ": account: 4 rows, 0 rejected; 8 quantities (sum 402): 4 loaded (sum 201), 4 rejected" in err[0]
    assert err[1].endswith(": interchange 1 (000000412): loaded; 4 quantities: 4 loaded, 0 rejected, 0 unused")
    assert err[2].endswith(
        ": interchange 2 (000000413): refused (segment 24: SE01 says 8 segments but transaction set 0001 has 9 "
        "(ST to SE)); 4 quantities: 0 loaded, 4 rejected, 0 unused"
    )


def test_a_promotion_calendar_shows_its_rows_and_rejects(tmp_path, capsys):
    calendar = write(
        tmp_path,
        "promo_calendar_20260601.csv",
        "promo_nbr,store_nbr,upc,start_date,end_date,promo_type,pct_off,status\n"
        "R1,,084215010016,2026-07-01,2026-07-07,TPR,20,ACTIVE\n"
        "R2,,084215010023,2026-07-09,2026-07-07,AD,,ACTIVE\n",
    )
    code, rows, errors = run(capsys, str(calendar), "--partner", "redwood_grocers")
    assert code == 1
    assert [(row["record_type"], row["promo_id"], row["promo_type"], row["depth"]) for row in rows] == [
        ("promotion", "R1", "discount", 20.0)
    ]
    assert rows[0]["location_id"] is None and rows[0]["promo_start"] == "2026-07-01"
    assert errors[-1].endswith("line 3: rejected promotion row: promotion ends before it starts")
