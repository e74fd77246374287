"""Product identity: UPC-A, EAN-13 and GTIN-14 normalised to GTIN-14, check digits verified, never guessed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assets.feeds.identity import InvalidCode, gln_problem, gs1_check_digit, gtin_problem, normalise_gtin


@pytest.mark.parametrize(
    ("code", "gtin14"),
    [
        ("084215010016", "00084215010016"),  # UPC-A
        ("0084215010016", "00084215010016"),  # the same item as EAN-13
        ("00084215010016", "00084215010016"),  # and as GTIN-14
        ("4006381333931", "04006381333931"),  # a German EAN-13
        ("10084215010013", "10084215010013"),  # a case GTIN-14 (packaging indicator 1)
        (" 036000291452 ", "00036000291452"),
    ],
)
def test_valid_codes_become_gtin_14(code, gtin14):
    assert gtin_problem(code) is None
    assert normalise_gtin(code) == gtin14


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("084215010017", "GTIN '084215010017' has check digit 7, expected 6"),
        ("84215010016", "GTIN '84215010016' has 11 digits (expected 12 for UPC-A, 13 for EAN-13 or 14 for GTIN-14)"),
        ("0842150100161", "GTIN '0842150100161' has check digit 1, expected 8"),
        ("08421501001X", "GTIN '08421501001X' has characters other than digits"),
        ("０８４２１５０１００１６", "GTIN '０８４２１５０１００１６' has characters other than digits"),
        ("", "missing GTIN"),
    ],
)
def test_invalid_codes_are_refused_with_the_reason(code, reason):
    assert gtin_problem(code) == reason
    with pytest.raises(InvalidCode, match="GTIN|missing"):
        normalise_gtin(code)


def test_gln_check():
    assert gln_problem("4012345000009") is None
    assert gln_problem("4012345000008") == "GLN '4012345000008' has check digit 8, expected 9"
    assert gln_problem("F012") == "GLN 'F012' is not 13 digits"


@given(body=st.text(alphabet="0123456789", min_size=11, max_size=13))
def test_every_body_with_its_check_digit_is_valid_and_any_other_digit_is_not(body):
    code = body + gs1_check_digit(body)
    assert gtin_problem(code) is None
    assert normalise_gtin(code) == code.zfill(14)
    wrong = code[:-1] + str((int(code[-1]) + 1) % 10)
    assert "check digit" in gtin_problem(wrong)
