"""Nothing is lost without a word: over the demo's own EDI builders, every quantity element of a file is loaded,
rejected or unused; and every interchange is acknowledged once, the same way again on redelivery."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets.feeds.demo.edifact import EdifactPartner, inventory_report, sales_report
from assets.feeds.demo.x12 import X12Partner, inventory_846, product_activity_852
from assets.feeds.loading.acknowledgments import ACKNOWLEDGMENTS_TABLE, acknowledge_file
from assets.feeds.parsers.edifact import parse_edifact
from assets.feeds.parsers.interchange import EnvelopeError
from assets.feeds.parsers.x12 import parse_x12
from assets.feeds.partner_config import FileSpec

X12 = X12Partner("REDWOODGROC", "Redwood", "America/Chicago", "UP", {})
EDIFACT = EdifactPartner("hansa_handel", "Hansa", "4012345000009", "Europe/Berlin", "EN", "\n")
ITEMS = ["084215010016", "084215010023", "084215010030", "084215010047", "084215010054"]
BAD_ITEM = "084215010017"  # a check digit that fails: its rows are rejected, their quantities counted so
STORES = ["1042", "1107", "2231"]
DELIVERED = datetime(2025, 6, 23, 7, tzinfo=UTC).timestamp()

quantities = st.integers(min_value=0, max_value=500)
activity = st.lists(
    st.tuples(st.sampled_from([*ITEMS, BAD_ITEM]), st.sampled_from(STORES), quantities, quantities, quantities),
    min_size=1,
    max_size=12,
    unique_by=lambda row: row[:2],
)


def element_sum(text: str, element: str, terminator: str) -> float:
    """Every quantity element of a demo file, read independently of the parsers: X12 SDQ pairs and QTY02, or
    EDIFACT QTY C186 quantities."""
    total = 0.0
    for segment in re.split(re.escape(terminator) + r"\s*", text):
        parts = segment.strip().split(element)
        if parts[0] == "SDQ":
            total += sum(float(value) for value in parts[4::2] if value)
        elif parts[0] == "QTY" and element == "*":
            total += float(parts[2])
        elif parts[0] == "QTY":
            total += float(parts[1].split(":")[1])
    return total


def assert_balanced(parsed, expected_total: float) -> None:
    account = parsed.account
    assert account.total == expected_total
    assert account.total == account.loaded + account.rejected + account.unused_total
    assert account.elements == account.loaded_elements + account.rejected_elements + account.unused_elements


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=activity, drop=st.sampled_from([{}, {"QR": None}, {"QS": None, "QA": None}]))
def test_every_quantity_of_a_demo_852_is_loaded_rejected_or_unused(tmp_path_factory, rows, drop):
    frame = pd.DataFrame(rows, columns=["item", "store", "units_sold", "on_hand_qty", "units_received"])
    frame["units_returned"] = frame["units_sold"] // 7
    frame["units_out_of_stock"] = 0
    totals = frame.set_index(["item", "store"])[
        ["units_sold", "units_returned", "units_received", "units_out_of_stock"]
    ]
    closing = frame.set_index(["item", "store"])[["on_hand_qty"]]
    data, _ = product_activity_852(X12, totals, closing, date(2025, 6, 16), date(2025, 6, 22), DELIVERED, 7)
    path = tmp_path_factory.mktemp("x12") / "852.x12"
    path.write_bytes(data)
    spec = FileSpec(record_type="sales", pattern="*", format="x12", activity_codes=drop)
    parsed = parse_x12(path, spec, "redwood_grocers", "file")
    assert_balanced(parsed, element_sum(data.decode(), "*", "~"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=activity, kind=st.sampled_from(["846", "INVRPT", "SLSRPT"]))
def test_every_quantity_of_a_demo_stock_or_sales_report_is_loaded_rejected_or_unused(tmp_path_factory, rows, kind):
    frame = pd.DataFrame(rows, columns=["product_ref", "location_id", "units_sold", "on_hand_qty", "units_returned"])
    folder = tmp_path_factory.mktemp("edi")
    if kind == "846":
        data = inventory_846(X12, frame, date(2025, 6, 22), DELIVERED, 8)
        path = folder / "846.x12"
        path.write_bytes(data)
        parsed = parse_x12(path, FileSpec(record_type="stock", pattern="*", format="x12"), "redwood_grocers", "f")
        assert_balanced(parsed, element_sum(data.decode(), "*", "~"))
        return
    build = inventory_report if kind == "INVRPT" else sales_report
    data = build(EDIFACT, frame, date(2025, 6, 22), DELIVERED, 9)
    path = folder / f"{kind}.edi"
    path.write_bytes(data)
    spec = FileSpec(record_type="stock", pattern="*", format="edifact", quantity_codes={"61": None})
    parsed = parse_edifact(path, spec, "hansa_handel", "f")
    assert_balanced(parsed, element_sum(data.decode("latin-1"), "+", "'"))


def test_acknowledgments_are_numbered_once_and_the_same_on_redelivery(tmp_path):
    frame = pd.DataFrame({"product_ref": ITEMS[:2], "location_id": ["1042", "1042"], "on_hand_qty": [3, 4]})
    good = tmp_path / "846.x12"
    good.write_bytes(inventory_846(X12, frame, date(2025, 6, 22), DELIVERED, 12))
    broken = tmp_path / "846_broken.x12"
    broken.write_bytes(good.read_bytes().replace(b"SE*9*0001", b"SE*11*0001"))
    spec = FileSpec(record_type="stock", pattern="*", format="x12")
    parsed = parse_x12(good, spec, "redwood_grocers", "good")
    with pytest.raises(EnvelopeError) as error:
        parse_x12(broken, spec, "redwood_grocers", "broken")
    refused = error.value.interchanges
    conn = duckdb.connect()
    outbox, now = tmp_path / "outbox", datetime(2025, 6, 23, 8)
    first = acknowledge_file(conn, outbox, "redwood_grocers", "good", parsed.interchanges, refused=False, now=now)
    second = acknowledge_file(conn, outbox, "redwood_grocers", "broken", refused, refused=True, now=now)
    again = acknowledge_file(conn, outbox, "redwood_grocers", "good", parsed.interchanges, refused=False, now=now)
    assert [ack.control_number for ack in (*first, *second)] == [1, 2], "our control numbers never repeat"
    assert again[0].reused and again[0].file_name == first[0].file_name
    assert (first[0].kind, first[0].status, second[0].status) == ("997", "accepted", "rejected")
    rejection = (outbox / "redwood_grocers" / second[0].file_name).read_text()
    assert "AK5*R*4~" in rejection, "SE01 wrong: AK502 code 4, number of included segments does not match"
    assert "AK9*R*1*1*0~" in rejection
    assert conn.execute(f"select count(*) from {ACKNOWLEDGMENTS_TABLE}").fetchone() == (2,)
    assert sorted(path.name for path in Path(outbox / "redwood_grocers").iterdir()) == sorted(
        ack.file_name for ack in (*first, *second)
    )


def test_an_acknowledgment_is_dated_when_its_file_arrived_so_a_rebuild_writes_the_same_text(tmp_path):
    frame = pd.DataFrame({"product_ref": ITEMS[:1], "location_id": ["1042"], "on_hand_qty": [3]})
    good = tmp_path / "846.x12"
    good.write_bytes(inventory_846(X12, frame, date(2025, 6, 22), DELIVERED, 12))
    parsed = parse_x12(good, FileSpec(record_type="stock", pattern="*", format="x12"), "redwood_grocers", "good")
    arrived = datetime(2025, 6, 23, 1, 40)
    texts = []
    for written in (datetime(2025, 6, 23, 8, 0), datetime(2026, 1, 5, 23, 59)):
        conn, outbox = duckdb.connect(), tmp_path / f"outbox_{written:%Y%m%d}"
        [ack] = acknowledge_file(
            conn, outbox, "redwood_grocers", "good", parsed.interchanges, refused=False, now=written, dated=arrived
        )
        texts.append((outbox / "redwood_grocers" / ack.file_name).read_text())
    assert texts[0] == texts[1]
    assert "*250623*0140*" in texts[0] and "*20250623*0140*" in texts[0], "ISA09/10 and GS04/05: when it arrived"


UNMAPPED_846 = (
    "ISA*00*          *00*          *ZZ*REDWOODGROC    *ZZ*084215000000   *250630*0140*U*00401*000000901*0*P*>~\n"
    "GS*IB*REDWOODGROC*084215000000*20250630*0140*901*X*004010~\n"
    "ST*846*0001~\nBIA*00*SI*INV1*20250629~\nN1*ST*Lincoln Park*92*1042~\n"
    "LIN**UP*084215010016~\nQTY*34*5250~\nQTY*QH*100~\nCTT*1~\nSE*8*0001~\n"
    "GE*1*901~\nIEA*1*000000901~\n"
)


def test_a_valid_file_without_usable_rows_is_not_loaded_and_is_acknowledged(tmp_path):
    from assets.feeds.loading.loader import ingest_landing
    from assets.feeds.partner_config import load_partner_configs

    configs = load_partner_configs(Path(__file__).resolve().parents[2] / "data" / "partners", ["redwood_grocers"])
    landing = tmp_path / "landing"
    for name in ("846_20250629.x12", "846_20250629_again.x12"):
        (landing / "redwood_grocers").mkdir(parents=True, exist_ok=True)
        (landing / "redwood_grocers" / name).write_text(UNMAPPED_846)
    conn, outbox = duckdb.connect(), tmp_path / "outbox"
    report = ingest_landing(conn, landing, configs, now=datetime(2025, 7, 1, 2), outbox_dir=outbox)
    assert report.counts == {"loaded": 0, "quarantined": 0, "duplicate": 1, "no_usable_rows": 1}
    row = conn.execute(
        "select status, reason, quantities_reported, quantities_unused, unused_detail from raw.feed_files "
        "where status = 'no_usable_rows'"
    ).fetchone()
    assert row[:4] == (
        "no_usable_rows",
        "846 QTY qualifiers 34, QH are not mapped for partner redwood_grocers",
        2,
        2,
    )
    assert "846 QTY qualifier 34 not mapped: 1 × (sum 5250)" in row[4]
    [ack] = (outbox / "redwood_grocers").iterdir()
    assert ack.read_text().count("AK5*A~") == 1, "syntactically sound, so accepted; the duplicate got the same one"


def test_a_reused_interchange_control_number_is_rejected_back_to_the_partner(tmp_path):
    from assets.feeds.loading.loader import ingest_landing
    from assets.feeds.partner_config import load_partner_configs

    configs = load_partner_configs(Path(__file__).resolve().parents[2] / "data" / "partners", ["redwood_grocers"])
    folder = tmp_path / "landing" / "redwood_grocers"
    folder.mkdir(parents=True)
    mapped = UNMAPPED_846.replace("QTY*34*5250", "QTY*17*5250")
    (folder / "846_20250629.x12").write_text(mapped)
    (folder / "846_20250629_fix.x12").write_text(mapped.replace("QTY*17*5250", "QTY*17*5200"))
    conn, outbox = duckdb.connect(), tmp_path / "outbox"
    report = ingest_landing(conn, tmp_path / "landing", configs, now=datetime(2025, 7, 1, 2), outbox_dir=outbox)
    assert report.counts == {"loaded": 1, "quarantined": 1, "duplicate": 0}
    acks = {path.name.split("_")[0]: path.read_text() for path in (outbox / "redwood_grocers").iterdir()}
    assert set(acks) == {"997", "TA1"}
    assert "TA1*000000901*250630*0140*R*025~" in acks["TA1"], "duplicate interchange control number"


def test_each_interchange_of_a_file_has_its_own_outcome_and_acknowledgment(tmp_path):
    """A file whose second interchange is broken loads the first, and records and rejects the second."""
    from assets.feeds.loading.loader import ingest_landing
    from assets.feeds.partner_config import load_partner_configs

    configs = load_partner_configs(Path(__file__).resolve().parents[2] / "data" / "partners", ["redwood_grocers"])
    folder = tmp_path / "landing" / "redwood_grocers"
    folder.mkdir(parents=True)
    good = UNMAPPED_846.replace("QTY*34*5250", "QTY*17*5250")
    broken = good.replace("000000901", "000000902").replace("*901*", "*902*").replace("SE*8*0001", "SE*9*0001")
    (folder / "846_20250629.x12").write_text(good + broken.replace("GE*1*901", "GE*1*902"))
    conn, outbox = duckdb.connect(), tmp_path / "outbox"
    report = ingest_landing(conn, tmp_path / "landing", configs, now=datetime(2025, 7, 1, 2), outbox_dir=outbox)
    assert report.counts == {"loaded": 1, "quarantined": 0, "duplicate": 0}
    assert conn.execute("select on_hand_qty from raw.stock_snapshots").fetchall() == [(5250.0,)]
    interchanges = conn.execute(
        """select interchange_index, control_number, outcome, reason, quantities_reported, quantities_loaded,
                  quantities_rejected, quantities_unused
           from raw.edi_interchanges order by interchange_index"""
    ).fetchall()
    assert interchanges == [
        (1, "000000901", "loaded", None, 2, 1, 0, 1),
        (
            2,
            "000000902",
            "refused",
            "segment 22: SE01 says 9 segments but transaction set 0001 has 8 (ST to SE)",
            2,
            0,
            2,
            0,
        ),
    ]
    ledger = conn.execute(
        "select quantities_reported, quantities_loaded, quantities_rejected, quantities_unused from raw.feed_files"
    ).fetchone()
    assert ledger == (4, 1, 2, 1), "the file's account holds both interchanges"
    acks = sorted(path.read_text() for path in (outbox / "redwood_grocers").iterdir())
    assert len(acks) == 2 and sum("AK5*A~" in ack for ack in acks) == 1 and sum("AK5*R" in ack for ack in acks) == 1
