"""Facts about a delivered file's bytes that the delimited fast path plans on, gathered while the file is hashed.

A :class:`ByteProfile` is a :class:`~assets.feeds.loading.file_scan.ChunkObserver`: line ends, white space and
control characters, the delimiters, whether the bytes are ASCII or UTF-8, the head of the file and where certain
bytes last occur. It only counts and records; :func:`~assets.feeds.loading.native_plan.plan_native_read` decides
from these facts whether DuckDB's reader may load the file.
"""

from __future__ import annotations

import codecs

import numpy as np

from assets.feeds.parsers.cell_rules import ASCII_SPACES, UNICODE_SPACES
from assets.feeds.parsers.delimited import QUOTE_CHAR

LOW = ord("!")  # bytes below it are line ends, ASCII white space and control characters
CONTROL_CODES = [code for code in range(LOW) if chr(code) not in ASCII_SPACES]  # text, if nothing else is
HEAD_BYTES = 1 << 16  # kept from the start of a file: the header record must end within them
_PROBES = (b"_", b"+", QUOTE_CHAR.encode())  # bytes whose last occurrence the planner asks about
_UNICODE_SPACE_BYTES = tuple(char.encode("utf-8") for char in UNICODE_SPACES)


class ByteProfile:
    """What :func:`plan_native_read` needs to know about a file's bytes, gathered chunk by chunk.

    A :class:`~assets.feeds.loading.file_scan.ChunkObserver`: the loader shows it the file while hashing it, so the
    bytes are read once, and each question costs a pass over a chunk still in the CPU cache. Every answer is the
    same however the file is cut into chunks (a test cuts files into chunks of a few bytes).
    """

    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter
        self.size = 0
        self.head = b""  # the first HEAD_BYTES bytes: the header record and the start of the body
        self.tail = b""  # the last two bytes so far
        self.ascii = True
        self.utf8 = True  # whether the bytes so far can be UTF-8 (decoded only once a byte beyond ASCII shows)
        self.beyond_ascii = 0  # bytes >= 0x80
        self.low = np.zeros(LOW, dtype=np.int64)  # how often each byte below "!" occurs: line ends, blanks, controls
        self.crlf = 0  # "\r\n" pairs
        self.delimiters = 0  # occurrences of the delimiter byte, quoted or not
        self.last_at = dict.fromkeys(_PROBES, -1)  # offset of each probe byte's last occurrence
        self.unicode_space = False
        self.space_by_quote = False  # an ASCII blank (not a line end or the delimiter) next to a quote
        self.space_on_edge = False  # such a blank next to a delimiter or a line end
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._closed = False
        self.failure: Exception | None = None  # what went wrong looking at the bytes, if anything
        self._is_space = np.zeros(256, dtype=bool)
        self._is_space[[ord(char) for char in self.blank_candidates]] = True
        self._is_edge = np.zeros(256, dtype=bool)
        self._is_edge[[ord("\n"), ord("\r")]] = True
        self._delimiter_code = ord(delimiter) if len(delimiter) == 1 and ord(delimiter) < 128 else None
        if self._delimiter_code is not None:
            self._is_edge[self._delimiter_code] = True

    @classmethod
    def of(cls, data: bytes, delimiter: str, *, chunk_bytes: int | None = None) -> ByteProfile:
        """The profile of bytes in memory, looked at in chunks of ``chunk_bytes`` (all at once by default)."""
        profile = cls(delimiter)
        step = chunk_bytes or max(len(data), 1)
        for begin in range(0, len(data), step):
            chunk = data[begin : begin + step]
            profile.observe(chunk, len(chunk))
        return profile.close()

    @property
    def blank_candidates(self) -> list[str]:
        """ASCII white space the pandas path strips from a cell: not a line end, not the delimiter."""
        return [char for char in ASCII_SPACES if char not in "\r\n" and char != self.delimiter]

    def observe(self, buffer: bytes | bytearray, length: int) -> None:
        if self._closed:
            raise RuntimeError("the profile is closed")
        if self.failure is not None:
            return
        try:
            self._observe(buffer, length)
        except Exception as exc:  # a bug of ours must not stop the hash: the planner raises it for this file only
            self.failure = exc

    def _observe(self, buffer: bytes | bytearray, length: int) -> None:
        if not length:
            return
        chunk = memoryview(buffer)[:length]
        codes = np.frombuffer(buffer, dtype=np.uint8, count=length)
        offset, previous = self.size, self.tail
        if len(self.head) < HEAD_BYTES:
            self.head += bytes(chunk[: HEAD_BYTES - len(self.head)])
        line_feeds = int(np.count_nonzero(codes == ord("\n")))
        if self._delimiter_code is not None:
            self.delimiters += int(np.count_nonzero(codes == self._delimiter_code))
        low = int(np.count_nonzero(codes < LOW))
        blanks_here = False
        if low == line_feeds:
            self.low[ord("\n")] += line_feeds
        else:
            counts = np.bincount(codes[codes < LOW], minlength=LOW)
            self.low += counts
            if counts[ord("\r")]:
                self.crlf += buffer.count(b"\r\n", 0, length)
            blanks_here = bool(counts[self._is_space[:LOW]].any())
        if previous.endswith(b"\r") and codes[0] == ord("\n"):
            self.crlf += 1
        # The str methods below need the chunk alone: a last, shorter chunk is copied once, others when needed.
        own = bytes(chunk) if length != len(buffer) else None
        ascii_chunk = (buffer if own is None else own).isascii()
        # A blank at the end of the last chunk may touch a quote or an edge at the start of this one.
        blanks_near = blanks_here or bool(previous and self._is_space[previous[-1]])
        if own is None and (blanks_near or not ascii_chunk):
            own = bytes(chunk)
        if blanks_near:
            self._look_at_blanks(np.frombuffer(previous[-1:] + own, dtype=np.uint8))
        if not ascii_chunk:
            self._beyond_ascii(previous + own, codes)
        elif self.utf8 and self._decoder.getstate()[0]:
            self.utf8 = False  # a multi-byte character cut short by ASCII
        for probe in _PROBES:
            found = buffer.rfind(probe, 0, length)
            if found >= 0:
                self.last_at[probe] = offset + found
        self.size += length
        self.tail = (previous + bytes(chunk[-2:]))[-2:]

    def _look_at_blanks(self, window: np.ndarray) -> None:
        space = self._is_space[window]
        quote = window == ord(QUOTE_CHAR)
        edge = self._is_edge[window]
        self.space_by_quote = self.space_by_quote or bool(
            (space[1:] & quote[:-1]).any() or (space[:-1] & quote[1:]).any()
        )
        self.space_on_edge = self.space_on_edge or bool((space[1:] & edge[:-1]).any() or (space[:-1] & edge[1:]).any())

    def _beyond_ascii(self, window: bytes, codes: np.ndarray) -> None:
        """A chunk with bytes beyond ASCII; ``window`` is it with the last two bytes before it."""
        self.ascii = False
        self.beyond_ascii += int(np.count_nonzero(codes >= 0x80))
        # A white-space character of up to three bytes may start in the bytes before the chunk.
        self.unicode_space = self.unicode_space or has_unicode_space(window)
        if self.utf8:
            try:
                self._decoder.decode(window[len(window) - len(codes) :])
            except UnicodeDecodeError:
                self.utf8 = False

    def close(self) -> ByteProfile:
        """Call once the whole file was observed (a character cut short at its end is not UTF-8)."""
        if not self._closed:
            self._closed = True
            if self.utf8:
                try:
                    self._decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    self.utf8 = False
        return self

    @property
    def text_surely(self) -> bool:
        """Whether some byte is ASCII and neither white space nor a control character (so the file has text)."""
        return self.size - int(self.low.sum()) - self.beyond_ascii > 0


def has_unicode_space(data: bytes) -> bool:
    """Whether UTF-8 ``data`` holds a white-space character beyond ASCII (no-break space, ideographic space ...)."""
    body = np.frombuffer(data, dtype=np.uint8)
    leads = np.flatnonzero((body == 0xC2) | ((body >= 0xE1) & (body <= 0xE3)))
    if len(leads) == 0:
        return False
    for sequence in _UNICODE_SPACE_BYTES:
        candidates = leads[body[leads] == sequence[0]]
        for offset, byte in enumerate(sequence[1:], start=1):
            candidates = candidates[candidates + offset < len(body)]
            candidates = candidates[body[candidates + offset] == byte]
        if len(candidates):
            return True
    return False
