"""Promotion calendars: each column-mapped format reads them through the partner's mapping, and rows that break a
promotion rule are rejected with a plain reason."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest

from assets.feeds.contracts import PROMOTION_COLUMNS
from assets.feeds.errors import PartnerConfigError
from assets.feeds.loading.loader import ingest_landing
from assets.feeds.parsers.delimited import parse_delimited
from assets.feeds.parsers.tabular import parse_excel, parse_json
from assets.feeds.partner_config import FileSpec, load_partner_configs, parse_partner_config

CONFIGS = load_partner_configs(Path(__file__).resolve().parents[2] / "data" / "partners")


def promotion_spec(partner_id: str) -> FileSpec:
    return CONFIGS[partner_id].specs_for("promotion")[0]


def arrived(path: Path, day: datetime = datetime(2026, 6, 1, 6)) -> Path:
    """Date the file's arrival (its modification time): a calendar's starts are judged against it."""
    os.utime(path, (day.timestamp(), day.timestamp()))
    return path


HANSA_CALENDAR = (
    "Aktionsnr;Filiale;EAN;Beginn;Ende;Aktionsart;Rabatt %;Status\r\n"
    "A-1;;0084215010016;01.07.2026;14.07.2026;Preisaktion;12,5;geplant\r\n"
    "A-2;F012;0084215010023;03.07.2026;09.07.2026;Zweitplatzierung;;geändert\r\n"
    "A-3;;0084215010030;20.07.2026;13.07.2026;Preisaktion;20;geplant\r\n"
    "A-4;;0084215010047;20.07.2026;26.07.2026;Gewinnspiel;;geplant\r\n"
    "A-5;;0084215010054;20.07.2026;26.07.2026;Preisaktion;120;storniert\r\n"
    "A-6;;0084215010061;20.07.2026;26.07.2026;Preisaktion;;geplant\r\n"
)


def test_a_german_calendar_maps_words_and_rejects_rows_that_break_a_rule(tmp_path: Path) -> None:
    path = tmp_path / "Aktionen_20260601.csv"
    path.write_bytes(HANSA_CALENDAR.encode("utf-8-sig"))
    arrived(path)
    result = parse_delimited(path, promotion_spec("hansa_handel"), "hansa_handel", "file-1")

    assert result.record_type == "promotion"
    assert list(result.rows.columns) == list(PROMOTION_COLUMNS)
    rows = result.rows.set_index("promo_id")
    assert list(rows.index) == ["A-1", "A-2"]
    assert rows.loc["A-1", "promo_type"] == "discount" and rows.loc["A-1", "depth"] == 12.5
    assert pd.isna(rows.loc["A-1", "location_id"])  # blank store: every store
    assert rows.loc["A-2", "promo_type"] == "display" and pd.isna(rows.loc["A-2", "depth"])
    assert rows.loc["A-2", "promo_start"] == pd.Timestamp("2026-07-03")
    assert not rows["cancelled"].any()
    reasons = dict(zip(result.rejects["source_line"], result.rejects["reason"], strict=True))
    assert reasons[4] == "promotion ends before it starts"
    assert reasons[5].startswith("unknown promotion type 'Gewinnspiel' (expected one of discount, display, feature")
    assert reasons[6] == "discount depth outside 0-100 %"
    assert reasons[7] == "a discount needs its depth in percent"


def test_a_workbook_calendar_reads_through_the_mapping_and_marks_cancellations(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "促销计划"
    sheet.append(["华信零售 促销计划"])
    sheet.append([])
    sheet.append(["促销编号", "门店编号", "商品编码", "开始日期", "结束日期", "促销类型", "折扣力度", "状态"])
    sheet.append(["P7", "SH001", "HX-031648", datetime(2026, 7, 1), datetime(2026, 7, 7), "折扣", 30, "已取消"])
    sheet.append(["P8", None, "HX-039567", datetime(2026, 7, 8), datetime(2026, 7, 21), "海报", None, "有效"])
    path = tmp_path / "cuxiao_20260601.xlsx"
    book.save(path)
    arrived(path)

    result = parse_excel(path, promotion_spec("huaxin_retail"), "huaxin_retail", "file-2")

    assert result.rows_rejected == 0
    assert result.rows["promo_type"].tolist() == ["discount", "feature"]
    assert result.rows["cancelled"].tolist() == [True, False]
    assert result.rows["location_id"].tolist()[0] == "SH001"
    assert result.rows["promo_end"].tolist()[1] == pd.Timestamp("2026-07-21")


def test_a_json_calendar_reads_nested_records(tmp_path: Path) -> None:
    spec = FileSpec(
        record_type="promotion",
        pattern="promos_*.json",
        format="json",
        records_path="promotions",
        columns={
            "product_ref": "item.upc",
            "promo_start": "window.from",
            "promo_end": "window.to",
            "promo_type": "kind",
            "depth": "percent_off",
        },
        promo_types={"tpr": "discount"},
    )
    document = {
        "promotions": [
            {
                "item": {"upc": "084215010016"},
                "window": {"from": "2026-07-01", "to": "2026-07-07"},
                "kind": "TPR",
                "percent_off": 25,
            },
            {
                "item": {"upc": "084215010023"},
                "window": {"from": "2026-07-01", "to": "2026-07-07"},
                "kind": "TPR",
                "percent_off": -5,
            },
        ]
    }
    path = tmp_path / "promos_1.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    arrived(path)

    result = parse_json(path, spec, "redwood_grocers", "file-3")

    assert result.rows["product_ref"].tolist() == ["084215010016"]
    assert result.rows["depth"].tolist() == [25.0]
    assert result.rejects["reason"].tolist() == ["discount depth outside 0-100 %"]


def test_a_mistyped_year_or_an_endless_promotion_is_rejected_by_name(tmp_path: Path) -> None:
    calendar = (
        "Aktionsnr;Filiale;EAN;Beginn;Ende;Aktionsart;Rabatt %;Status\r\n"
        "A-1;;0084215010016;01.07.2026;31.12.9999;Zweitplatzierung;;geplant\r\n"
        "A-2;;0084215010016;01.07.2026;30.09.2026;Zweitplatzierung;;geplant\r\n"
        "A-3;;0084215010016;01.07.2026;01.10.2026;Zweitplatzierung;;geplant\r\n"
        "A-4;;0084215010016;01.07.2027;07.07.2027;Preisaktion;10;geplant\r\n"
        "A-5;;0084215010016;01.05.2025;07.05.2025;Preisaktion;10;geplant\r\n"
        "A-6;;0084215010016;25.05.2026;31.05.2026;Preisaktion;10;geplant\r\n"
    )
    path = tmp_path / "Aktionen_20260601.csv"
    path.write_bytes(calendar.encode("utf-8-sig"))
    arrived(path)

    result = parse_delimited(path, promotion_spec("hansa_handel"), "hansa_handel", "file-1")

    assert result.rows["promo_id"].tolist() == ["A-2", "A-6"]  # 92 days; a week just past
    reasons = dict(zip(result.rejects["source_line"], result.rejects["reason"], strict=True))
    assert reasons[2] == reasons[4] == "promotion runs longer than 92 days (the longest a calendar may plan)"
    assert reasons[5] == reasons[6] == "promotion starts more than 366 days from the day the file arrived"


def test_a_promotion_spec_refuses_unknown_types_and_edi_formats() -> None:
    def config(file_entry: dict) -> dict:
        return {
            "partner_id": "p",
            "name": "P",
            "country": "US",
            "timezone": "America/Chicago",
            "currency": "USD",
            "feed_cutoff": "06:00",
            "files": [file_entry],
        }

    columns = {"product_ref": "upc", "promo_start": "a", "promo_end": "b", "promo_type": "t"}
    entry = {"record_type": "promotion", "pattern": "p_*.csv", "columns": columns, "promo_types": {"BOGO": "bogo"}}
    with pytest.raises(PartnerConfigError, match="'bogo' is not one of discount, display, feature"):
        parse_partner_config(config(entry), Path("p.yaml"))
    with pytest.raises(PartnerConfigError, match="promotion calendars are read from csv, xlsx, json files only"):
        edi = {"record_type": "promotion", "pattern": "p_*.x12", "format": "x12"}
        parse_partner_config(config(edi), Path("p.yaml"))


def test_a_calendar_and_its_revision_both_load_into_the_raw_table(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    first = "promo_nbr,store_nbr,upc,start_date,end_date,promo_type,pct_off,status\n"
    first += (
        "R1,,084215010016,2026-07-01,2026-07-07,TPR,20,ACTIVE\nR2,1042,084215010023,2026-07-01,2026-07-07,AD,,ACTIVE\n"
    )
    revised = "promo_nbr,store_nbr,upc,start_date,end_date,promo_type,pct_off,status\n"
    revised += "R1,,084215010016,2026-07-08,2026-07-14,TPR,25,REVISED\n"
    revised += "R2,1042,084215010023,2026-07-01,2026-07-07,AD,,CANCELLED\n"
    for name, text, hour in (("promo_calendar_20260601.csv", first, 1), ("promo_calendar_20260615.csv", revised, 2)):
        path = landing / "redwood_grocers" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        stamp = datetime(2026, 6, 1, hour).timestamp()
        os.utime(path, (stamp, stamp))
    conn = duckdb.connect()

    report = ingest_landing(conn, landing, CONFIGS, now=datetime(2026, 6, 16))

    assert report.counts["loaded"] == 2
    statuses = conn.execute("select record_type, status from raw.feed_files order by path").fetchall()
    assert statuses == [("promotion", "loaded"), ("promotion", "loaded")]
    rows = conn.execute(
        "select promo_id, location_id, promo_start, depth, cancelled from raw.partner_promotions order by all"
    ).fetchall()
    assert [(row[0], row[1], str(row[2]), row[3], row[4]) for row in rows] == [
        ("R1", None, "2026-07-01", 20.0, False),
        ("R1", None, "2026-07-08", 25.0, False),
        ("R2", "1042", "2026-07-01", None, False),
        ("R2", "1042", "2026-07-01", None, True),
    ]
