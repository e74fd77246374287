"""X12, EDIFACT and delimited files are read in chunks: any chunk size gives the same result, and memory stays
bounded by a transaction set, not by the file (proven in a child whose address space is capped)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from assets.feeds.errors import FeedError
from assets.feeds.parsers import chunked_text, delimited
from assets.feeds.parsers.delimited import parse_delimited
from assets.feeds.parsers.edifact import parse_edifact
from assets.feeds.parsers.x12 import parse_x12
from assets.feeds.partner_config import FileSpec
from tests.unit.test_edifact import SALES_REPORT
from tests.unit.test_x12 import PRODUCT_ACTIVITY

X12_SPEC = FileSpec(record_type="sales", pattern="*.x12", format="x12")
EDIFACT_SPEC = FileSpec(record_type="sales", pattern="*.edi", format="edifact")
CSV_SPEC = FileSpec(
    record_type="sales",
    pattern="*.csv",
    columns={"location_id": "store", "product_ref": "upc", "period_start": "date", "units_sold": "units"},
)

# The child's whole address space: the interpreter with pandas imported takes about 210 MiB of it, so under 80 MiB
# are left for the parse. Held whole (bytes, text and every segment) the file below took 235 MiB more than the
# interpreter (VmPeak 444 MB: a MemoryError under this cap); read set by set it takes a few MiB more.
ADDRESS_SPACE_CAP = 288 << 20
FILE_MIB = 12

CHILD = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
from pathlib import Path
from assets.feeds.parsers.x12 import parse_x12
from assets.feeds.partner_config import FileSpec
parsed = parse_x12(Path(sys.argv[1]), FileSpec(record_type="sales", pattern="*.x12", format="x12"), "p", "f")
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
print(json.dumps({{"rows": parsed.rows_parsed, "quantities": parsed.account.loaded_elements,
                  "sets": len(parsed.interchanges[0].sets), "peak": status["VmPeak"].strip()}}))
"""


def write_described_852(path: Path, size: int) -> int:
    """A weekly 852 of one store, many sets of 40 described items (PID, CTP), each with its week's sales (ZA).

    The rows it yields are few (one per item: the week's sales add up), so what its parse holds is the reading of
    the file, not its output. Returns the number of sets.
    """
    with path.open("w", newline="") as out:
        out.write(
            "ISA*00*          *00*          *ZZ*REDWOODGROC    *ZZ*084215000000   *250623*0215*U*00401*"
            "000000412*0*P*>~\nGS*PD*REDWOODGROC*084215000000*20250623*0215*412*X*004010~\n"
        )
        sets = 0
        while out.tell() < size:
            sets += 1
            body = ["XQ*H*20250616*20250622", "N1*RL*REDWOOD 1042*92*1042"]
            for item in range(40):
                body += [
                    f"LIN**VN*RG-{item:05}",
                    f"PID*F****REDWOOD ORGANIC ITEM {item:05} FAMILY SIZE 24 OZ",
                    "CTP**RES*3.49",
                    f"ZA*QS*{sets % 9}*EA",
                ]
            body.append("CTT*40")
            segments = [f"ST*852*{sets:05}", *body, f"SE*{len(body) + 2}*{sets:05}"]
            out.write("".join(segment + "~\n" for segment in segments))
        out.write(f"GE*{sets}*412~\nIEA*1*000000412~\n")
    return sets


def test_an_x12_file_too_large_to_hold_whole_under_the_cap_parses_set_by_set(tmp_path):
    path = tmp_path / "852_large.x12"
    sets = write_described_852(path, FILE_MIB << 20)
    root = Path(__file__).resolve().parents[2]
    child = subprocess.run(
        [sys.executable, "-c", CHILD.format(cap=ADDRESS_SPACE_CAP), str(path)],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout)
    assert result["sets"] == sets
    assert result["rows"] == 40
    assert result["quantities"] == 40 * sets
    print(result["peak"])


def _same(left, right) -> None:
    for kind in ("stock", "sales"):
        pd.testing.assert_frame_equal(left.results[kind].rows, right.results[kind].rows)
        pd.testing.assert_frame_equal(left.results[kind].rejects, right.results[kind].rejects)
    assert left.account.summary() == right.account.summary()
    assert [interchange.all_defects() for interchange in left.interchanges] == [
        interchange.all_defects() for interchange in right.interchanges
    ]


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_edi_parses_the_same_whatever_the_chunk_size(chunk, tmp_path, monkeypatch):
    x12 = tmp_path / "852.x12"
    x12.write_bytes(b"\xef\xbb\xbf" + PRODUCT_ACTIVITY.encode() * 2)  # a BOM, two interchanges (a repeated ISA13)
    edifact = tmp_path / "slsrpt.edi"
    edifact.write_text(SALES_REPORT, encoding="latin-1")
    whole = {}
    for path, parse, spec in ((x12, parse_x12, X12_SPEC), (edifact, parse_edifact, EDIFACT_SPEC)):
        try:
            whole[path] = parse(path, spec, "p", "f")
        except FeedError as exc:
            whole[path] = exc
    monkeypatch.setattr(chunked_text.TextWindow.__init__, "__defaults__", (0, chunk))
    for path, parse, spec in ((x12, parse_x12, X12_SPEC), (edifact, parse_edifact, EDIFACT_SPEC)):
        if isinstance(whole[path], FeedError):
            with pytest.raises(FeedError) as raised:
                parse(path, spec, "p", "f")
            assert str(raised.value) == str(whole[path])
        else:
            _same(parse(path, spec, "p", "f"), whole[path])


def test_a_parsed_set_keeps_no_segments(tmp_path):
    path = tmp_path / "852.x12"
    path.write_text(PRODUCT_ACTIVITY)
    parsed = parse_x12(path, X12_SPEC, "p", "f")
    assert parsed.rows_parsed and all(not item.segments for item in parsed.interchanges[0].sets)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "utf-16"])
def test_a_delimited_file_read_in_chunks_of_lines_gives_the_rows_of_one_read(encoding, tmp_path, monkeypatch):
    lines = ["store,upc,date,units"]
    for number in range(23):
        date = "2025-13-01" if number % 7 == 3 else f"2025-06-{1 + number % 28:02}"
        lines.append(f"10{number % 3},0842{number:04},{date},{number}")
    lines.insert(9, "")
    path = tmp_path / "sales.csv"
    path.write_bytes("\r\n".join(lines).encode(encoding) + b"\r\n"[: 0 if encoding == "utf-16" else 2])
    spec = dataclasses.replace(CSV_SPEC, encoding=encoding)
    whole = parse_delimited(path, spec, "p", "f")
    monkeypatch.setattr(delimited, "CHUNK_LINES", 4)
    monkeypatch.setattr(chunked_text, "CHUNK_BYTES", 5)
    chunked = parse_delimited(path, spec, "p", "f")
    assert whole.rows_parsed == 20 and whole.rows_rejected == 3
    pd.testing.assert_frame_equal(chunked.rows, whole.rows)
    pd.testing.assert_frame_equal(chunked.rejects, whole.rejects)
