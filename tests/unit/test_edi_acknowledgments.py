"""999 and CONTRL down to the element: files with real element defects get the standards' segment and element
errors (X12 IK3/IK4/IK5 and AK9; EDIFACT UCM/UCS/UCD with 0085 codes), and the sound set beside them is accepted."""

from __future__ import annotations

from datetime import datetime

import pytest

from assets.feeds.acks import acknowledge
from assets.feeds.parsers.edifact import parse_edifact
from assets.feeds.parsers.interchange import EnvelopeError
from assets.feeds.parsers.x12 import parse_x12
from assets.feeds.partner_config import FileSpec

WRITTEN = datetime(2025, 6, 23, 8)
# A 005010 852 of two sets: the first dates its period 2025-13-16 (XQ02), the second sends a four-letter unit in
# QTY03 (the standard's unit codes have two).
X12_005010 = (
    "ISA*00*          *00*          *ZZ*REDWOODGROC    *ZZ*084215000000   *250623*0215*^*00501*000000412*0*P*>~\n"
    "GS*PD*REDWOODGROC*084215000000*20250623*0215*412*X*005010~\n"
    "ST*852*0001~\nXQ*H*20251316*20250622~\nLIN**UP*084215010016~\nZA*QS~\nSDQ*EA*92*1042*48~\nCTT*1~\n"
    "SE*7*0001~\n"
    "ST*852*0002~\nXQ*H*20250616*20250622~\nLIN**UP*084215010023~\nQTY*17*5*EACH~\nZA*QS~\nSDQ*EA*92*1042*5~\n"
    "CTT*1~\nSE*8*0002~\n"
    "GE*2*412~\nIEA*1*000000412~\n"
)
# An EANCOM SLSRPT of two messages: the first starts its period on 2025-06-31 (DTM+356, C507 2380).
SLSRPT = (
    "UNA:+.? '\nUNB+UNOC:3+4012345000009:14+0842150000000:14+250630:0315+HH00000123++SLSRPT'\n"
    "UNH+1+SLSRPT:D:01B:UN:EAN008'\nDTM+137:20250630:102'\nDTM+356:20250631:102'\nDTM+357:20250629:102'\n"
    "LOC+162+F012::92'\nLIN+1++0084215010016:EN'\nQTY+153:4'\nCNT+2:1'\nUNT+9+1'\n"
    "UNH+2+SLSRPT:D:01B:UN:EAN008'\nDTM+137:20250630:102'\nDTM+356:20250629:102'\nDTM+357:20250629:102'\n"
    "LOC+162+F012::92'\nLIN+1++0084215010023:EN'\nQTY+153:2'\nCNT+2:1'\nUNT+9+2'\nUNZ+2+HH00000123'\n"
)


def segments(text: str, terminator: str) -> list[str]:
    return [segment.strip() for segment in text.split(terminator) if segment.strip()]


def test_a_999_names_the_bad_element_of_each_set_and_accepts_the_group_in_part(tmp_path):
    path = tmp_path / "852.x12"
    path.write_text(X12_005010)
    parsed = parse_x12(path, FileSpec(record_type="sales", pattern="*", format="x12"), "redwood_grocers", "f1")
    assert parsed.rows_parsed == 1, "the second set loads"
    ack = acknowledge(parsed.interchanges[0], 7, WRITTEN, refused=False)
    assert (ack.kind, ack.status) == ("999", "rejected")
    body = segments(ack.text, "~")[3:-3]
    assert body == [
        "AK1*PD*412*005010",
        # Set 0001: segment 2 of the set (XQ) has element errors (IK304 8); its element 2 is an invalid date
        # (IK403 8) with the bad data echoed; a segment in error rejects the set (IK5 R, IK502 5).
        "AK2*852*0001",
        "IK3*XQ*2**8",
        "IK4*2**8*20251316",
        "IK5*R*5",
        # Set 0002: QTY03 too long (IK403 5) is not fatal: accepted with errors.
        "AK2*852*0002",
        "IK3*QTY*4**8",
        "IK4*3**5*EACH",
        "IK5*E",
        # Two sets received, one accepted: partially accepted.
        "AK9*P*2*2*1",
    ]
    assert segments(ack.text, "~")[2] == "ST*999*0001*005010X231A1"


def test_a_contrl_names_the_bad_component_and_acknowledges_the_sound_message(tmp_path):
    path = tmp_path / "SLSRPT.edi"
    path.write_text(SLSRPT)
    parsed = parse_edifact(path, FileSpec(record_type="sales", pattern="*", format="edifact"), "hansa_handel", "f1")
    assert parsed.rows_parsed == 1 and [item.outcome for item in parsed.outcomes] == ["partly_loaded"]
    ack = acknowledge(parsed.interchanges[0], 7, WRITTEN, refused=False)
    assert (ack.kind, ack.status) == ("CONTRL", "rejected")
    assert segments(ack.text, "'")[3:-2] == [
        # The interchange is acknowledged (0083 7); message 1 rejected (4) for an invalid value (0085 12) in
        # segment 3 of the message (DTM+356), element 1, component 2; message 2 acknowledged.
        "UCI+HH00000123+4012345000009:14+0842150000000:14+7",
        "UCM+1+SLSRPT:D:01B:UN+4+12",
        "UCS+3",
        "UCD+12+1:2",
        "UCM+2+SLSRPT:D:01B:UN+7",
    ]


def test_a_refused_file_is_rejected_down_to_its_element(tmp_path):
    """Nothing in the file can load: the first set's bad element is still named, the second set is rejected for
    its count (IK502 4; a set refused for its envelope is not read, so its QTY03 goes unmentioned), and the group
    is rejected."""
    path = tmp_path / "852.x12"
    path.write_text(X12_005010.replace("SE*8*0002", "SE*9*0002"))
    with pytest.raises(EnvelopeError) as error:
        parse_x12(path, FileSpec(record_type="sales", pattern="*", format="x12"), "redwood_grocers", "f1")
    assert error.value.location == "segment 4" and "also segment 17: SE01 says 9 segments" in error.value.reason
    ack = acknowledge(error.value.interchanges[0], 8, WRITTEN, refused=True)
    assert segments(ack.text, "~")[3:-3] == [
        "AK1*PD*412*005010",
        "AK2*852*0001",
        "IK3*XQ*2**8",
        "IK4*2**8*20251316",
        "IK5*R*5",
        "AK2*852*0002",
        "IK5*R*4",
        "AK9*R*2*2*0",
    ]


def test_a_sound_set_of_a_file_refused_for_a_reason_not_its_own_is_rejected_with_the_codes_the_999_requires(tmp_path):
    """Out of memory while written, say: IK502 and AK905 are required with R, and say "not supported" (1), the
    nearest code for a sound set the receiver did not take in, never 5 (segments in error)."""
    path = tmp_path / "852.x12"
    sound = X12_005010.replace("XQ*H*20251316", "XQ*H*20250616").replace("QTY*17*5*EACH~\n", "")
    path.write_text(sound.replace("SE*8*0002", "SE*7*0002"))
    parsed = parse_x12(path, FileSpec(record_type="sales", pattern="*", format="x12"), "redwood_grocers", "f1")
    accepted = acknowledge(parsed.interchanges[0], 7, WRITTEN, refused=False)
    assert "AK9*A*2*2*2" in segments(accepted.text, "~")
    ack = acknowledge(parsed.interchanges[0], 7, WRITTEN, refused=True)
    assert segments(ack.text, "~")[3:-3] == [
        "AK1*PD*412*005010",
        "AK2*852*0001",
        "IK5*R*1",
        "AK2*852*0002",
        "IK5*R*1",
        "AK9*R*2*2*0*1",
    ]
