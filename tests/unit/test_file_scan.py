"""Hashing a file in chunks, and the byte profile the delimited fast path plans on, however the file is cut.

The profile is gathered chunk by chunk while the file is hashed; each of its facts is checked here against the
same fact computed directly on the whole bytes, with files cut into chunks as small as one byte, so every fact
that spans two chunks (a "\\r\\n", a blank beside a quote, a multi-byte character) is cut somewhere.
"""

from __future__ import annotations

import codecs
import hashlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assets.feeds.loading.byte_profile import HEAD_BYTES, ByteProfile, has_unicode_space
from assets.feeds.loading.file_scan import hash_file
from assets.feeds.parsers.cell_rules import ASCII_SPACES

# Byte sequences that matter to the profile, and some that do not.
PIECES = [
    b"\n",
    b"\r\n",
    b"\r",
    b" ",
    b"\t",
    b"\x0b",
    b'"',
    b",",
    b";",
    b"_",
    b"+",
    b"\x00",
    b"\x01",
    b"a",
    b"7",
    b"1,5",
    "é".encode(),
    "\u00a0".encode(),  # no-break space
    "\u3000".encode(),  # ideographic space
    "中".encode(),
    b"\xc2",  # a character cut short
    b"\xa0",  # a continuation byte on its own
    b"\xff",  # never UTF-8
    codecs.BOM_UTF8,
]


class Recorder:
    """Observer that keeps what it was shown."""

    def __init__(self) -> None:
        self.seen = bytearray()
        self.calls = 0

    def observe(self, buffer: bytes | bytearray, length: int) -> None:
        self.seen += buffer[:length]
        self.calls += 1


@pytest.mark.parametrize("size", [0, 1, 9, 10, 11, 35, 64])
def test_hash_file_hashes_every_byte_and_shows_them_in_order(tmp_path: Path, size: int) -> None:
    data = bytes(np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8))
    path = tmp_path / "feed.csv"
    path.write_bytes(data)
    recorder = Recorder()
    assert hash_file(path, [recorder], chunk_bytes=10) == hashlib.sha256(data).hexdigest()
    assert bytes(recorder.seen) == data
    assert recorder.calls == max(1, -(-size // 10))


def test_hash_file_of_a_large_file_matches_hashlib(tmp_path: Path) -> None:
    """Several default-sized chunks: the second thread hashes while the next chunk is read."""
    data = bytes(np.random.default_rng(7).integers(0, 256, 3 * (1 << 20) + 12345, dtype=np.uint8))
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    recorder = Recorder()
    assert hash_file(path, [recorder]) == hashlib.sha256(data).hexdigest()
    assert bytes(recorder.seen) == data


def whole_file_facts(data: bytes, delimiter: str) -> dict[str, object]:
    """Every fact of the profile, computed on the whole bytes at once."""
    codes = np.frombuffer(data, dtype=np.uint8)
    blank = np.zeros(256, dtype=bool)
    blank[[ord(char) for char in ASCII_SPACES if char not in "\r\n" and char != delimiter]] = True
    edge = np.zeros(256, dtype=bool)
    edge[[ord("\n"), ord("\r"), ord(delimiter)]] = True
    space, quote, boundary = blank[codes], codes == ord('"'), edge[codes]
    try:
        data.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    return {
        "size": len(data),
        "head": data[:HEAD_BYTES],
        "tail": data[-2:],
        "ascii": data.isascii(),
        "utf8": utf8,
        "beyond_ascii": int(np.count_nonzero(codes >= 0x80)),
        "low": np.bincount(codes[codes < 0x21], minlength=0x21).tolist(),
        "crlf": data.count(b"\r\n"),
        "delimiters": data.count(delimiter.encode()),
        "last_at": {probe: data.rfind(probe) for probe in (b"_", b"+", b'"')},
        "unicode_space": has_unicode_space(data),
        "space_by_quote": bool((space[1:] & quote[:-1]).any() or (space[:-1] & quote[1:]).any()),
        "space_on_edge": bool((space[1:] & boundary[:-1]).any() or (space[:-1] & boundary[1:]).any()),
    }


def profile_facts(profile: ByteProfile) -> dict[str, object]:
    facts = {name: getattr(profile, name) for name in whole_file_facts(b"", ",")}
    facts["low"] = profile.low.tolist()
    if profile.ascii:  # only looked for in files beyond ASCII
        facts["unicode_space"] = False
    return facts


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(PIECES), max_size=40),
    delimiter=st.sampled_from([",", ";", "\t"]),
    chunk=st.integers(min_value=1, max_value=9),
)
def test_the_profile_is_the_same_however_the_file_is_cut(pieces: list[bytes], delimiter: str, chunk: int) -> None:
    data = b"".join(pieces)
    expected = whole_file_facts(data, delimiter)
    if data.isascii():
        expected["unicode_space"] = False
    assert profile_facts(ByteProfile.of(data, delimiter, chunk_bytes=chunk)) == expected
    assert profile_facts(ByteProfile.of(data, delimiter)) == expected


def test_a_character_cut_short_is_not_utf8_even_where_its_missing_bytes_follow_later() -> None:
    assert not ByteProfile.of("ab中".encode()[:-1], ",", chunk_bytes=2).utf8
    assert ByteProfile.of("ab中".encode(), ",", chunk_bytes=2).utf8
    # "\xc2" then ASCII then "\xa0": each chunk alone is plausible, and "\xc2\xa0" would be a character.
    assert not ByteProfile.of(b"\xc2a\xa0", ",", chunk_bytes=1).utf8


def test_an_observed_profile_cannot_take_more_bytes_once_closed() -> None:
    profile = ByteProfile.of(b"a,b\n", ",")
    with pytest.raises(RuntimeError):
        profile.observe(b"c", 1)
