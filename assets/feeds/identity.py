"""Product and location identity: GS1 check digits, GTIN normalisation and GLN checks.

Partners name items by UPC-A (12 digits), EAN-13 or GTIN-14; all three are the same GS1 number padded to a
different width, so they are normalised to GTIN-14 (left-padded with zeros) and their mod-10 check digit is
verified. A code that fails is never guessed at: callers reject the row with the reason returned here.
"""

from __future__ import annotations

GTIN_LENGTHS = (12, 13, 14)
GLN_LENGTH = 13


class InvalidCode(ValueError):
    """A product or location code that is not a valid GS1 number; the message is the reason, ready for a reject."""


def gs1_check_digit(digits: str) -> str:
    """GS1 mod-10 check digit over the data digits of a GTIN or GLN (weights 3, 1, 3 ... from the right)."""
    total = sum(int(digit) * (3 if index % 2 == 0 else 1) for index, digit in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def gtin_problem(code: str) -> str | None:
    """Why ``code`` is not a UPC-A, EAN-13 or GTIN-14, or None when it is one (check digit included)."""
    text = code.strip()
    if not text:
        return "missing GTIN"
    if not text.isascii() or not text.isdigit():
        return f"GTIN '{text}' has characters other than digits"
    if len(text) not in GTIN_LENGTHS:
        return f"GTIN '{text}' has {len(text)} digits (expected 12 for UPC-A, 13 for EAN-13 or 14 for GTIN-14)"
    expected = gs1_check_digit(text[:-1])
    if text[-1] != expected:
        return f"GTIN '{text}' has check digit {text[-1]}, expected {expected}"
    return None


def normalise_gtin(code: str) -> str:
    """UPC-A, EAN-13 or GTIN-14 as GTIN-14; raises InvalidCode with the reason when the code is not one."""
    problem = gtin_problem(code)
    if problem is not None:
        raise InvalidCode(problem)
    return code.strip().zfill(14)


def gln_problem(code: str) -> str | None:
    """Why ``code`` is not a 13-digit Global Location Number with a valid check digit, or None."""
    text = code.strip()
    if len(text) != GLN_LENGTH or not text.isascii() or not text.isdigit():
        return f"GLN '{text}' is not 13 digits"
    expected = gs1_check_digit(text[:-1])
    if text[-1] != expected:
        return f"GLN '{text}' has check digit {text[-1]}, expected {expected}"
    return None


def upc_from_consumer_package_code(code: str) -> str | None:
    """An 11-digit U.P.C. consumer package code (X12 qualifier UI, no check digit) as a UPC-A, or None.

    Twelve digits are taken as a UPC-A already carrying its check digit.
    """
    text = code.strip()
    if not text.isascii() or not text.isdigit():
        return None
    if len(text) == 11:
        return text + gs1_check_digit(text)
    return text if len(text) == 12 else None
