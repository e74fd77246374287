"""A delivered file's text read a chunk at a time, so a parser holds a piece of the file, never all of it.

Delimited files are checked here (:func:`scan_text`) before pandas reads them in chunks of lines. X12 and EDIFACT
interchanges are sequences of terminated segments; the envelope modules cut segments from a :class:`TextWindow`,
the decoded text not yet consumed, which reads the next chunk only when no terminator is in sight. Memory is then
bounded by the longest segment plus one chunk, whatever the size of the file.

The character set is a property of the whole file (X12: UTF-8 when every byte is, else Latin-1; EDIFACT: the
first UNB's syntax identifier), so it is settled by :func:`first_decode_error`, a pass that decodes the file in
chunks and keeps nothing, before any segment is cut: a bad byte at the end of a file is reported as it was when
the file was decoded whole, ahead of any structural defect.
"""

from __future__ import annotations

import codecs
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK_BYTES = 1 << 20
PREVIEW_BYTES = 4096
BOM = "\ufeff"


def preview(path: Path) -> bytes:
    """The first bytes of the file, for its byte order mark, encoding and header checks."""
    with path.open("rb") as file:
        return file.read(PREVIEW_BYTES)


@dataclass
class TextScan:
    """What one pass over a file's decoded text found: its first decoding error, or its line count and emptiness."""

    error: UnicodeDecodeError | None = None  # offsets counted from the start of the file
    newlines: int = 0
    ends_with_newline: bool = False
    blank: bool = True  # nothing but whitespace (and a byte order mark)

    @property
    def physical_lines(self) -> int:
        return self.newlines + (0 if self.ends_with_newline else 1)


def stream_codec(path: Path, codec: str) -> str:
    """The codec that decodes the file in chunks as ``codec`` decodes it whole.

    Whole, UTF-16 and UTF-32 text without a byte order mark is read in this machine's byte order; their incremental
    decoders refuse it instead, so the order is named.
    """
    name = codecs.lookup(codec).name
    if name not in ("utf-16", "utf-32"):
        return codec
    with path.open("rb") as file:
        head = file.read(4)
    utf16 = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    marks = utf16 if name == "utf-16" else (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)
    if head.startswith(marks):
        return codec
    return f"{name}-{'le' if sys.byteorder == 'little' else 'be'}"


def scan_text(path: Path, codec: str) -> TextScan:
    """Decode the whole file a chunk at a time, keeping nothing but counts (and the first error)."""
    codec = stream_codec(path, codec)
    skip = 0
    if codecs.lookup(codec).name == "utf-8-sig":
        # Its byte order mark is skipped here, so error offsets count from the start of the file in every chunk.
        codec = "utf-8"
        skip = len(codecs.BOM_UTF8) if preview(path).startswith(codecs.BOM_UTF8) else 0
    scan = TextScan()
    first = True
    try:
        for text in _decoded_chunks(path, codec, skip, origin=skip):
            if first:
                text, first = text.removeprefix(BOM), False
            if text:
                scan.newlines += text.count("\n")
                scan.ends_with_newline = text.endswith("\n")
                scan.blank = scan.blank and not text.strip()
    except UnicodeDecodeError as error:
        scan.error = error
    return scan


def first_decode_error(path: Path, codec: str, skip: int) -> UnicodeDecodeError | None:
    """The first decoding error of the file from byte ``skip`` on (offsets counted from ``skip``), or None."""
    try:
        for _ in _decoded_chunks(path, codec, skip, origin=0):
            pass
    except UnicodeDecodeError as error:
        return error
    return None


def _decoded_chunks(path: Path, codec: str, skip: int, *, origin: int) -> Iterator[str]:
    """The file's text from byte ``skip`` on, one non-empty chunk at a time. A decoding error is raised with its
    offsets as ``origin`` plus the bytes read after ``skip`` (``origin=skip``: from the start of the file)."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    consumed = origin
    with path.open("rb") as file:
        file.seek(skip)
        while True:
            data = file.read(CHUNK_BYTES)
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(data, not data)
            except UnicodeDecodeError as exc:
                raise _absolute(exc, consumed - pending) from None
            if text:
                yield text
            if not data:
                return
            consumed += len(data)


def _absolute(exc: UnicodeDecodeError, base: int) -> UnicodeDecodeError:
    """The error with offsets from the start of the file: an incremental decoder counts from the bytes it held."""
    return UnicodeDecodeError(exc.encoding, exc.object, base + exc.start, base + exc.end, exc.reason)


class TextWindow:
    """The decoded text of a file from byte ``skip`` on, read a chunk at a time.

    ``text`` holds what has been read and not yet dropped; :meth:`more` appends the next chunk, :meth:`drop`
    forgets a consumed prefix. The file is closed at its end (or by :meth:`close`).
    """

    def __init__(self, path: Path, codec: str, skip: int = 0, chunk_bytes: int = CHUNK_BYTES) -> None:
        self._file = path.open("rb")
        self._file.seek(skip)
        self._decoder = codecs.getincrementaldecoder(codec)("strict")
        self._chunk = chunk_bytes
        self.text = ""
        self.eof = False

    def more(self) -> bool:
        """Read the next chunk onto ``text``; False when the file was already at its end."""
        if self.eof:
            return False
        data = self._file.read(self._chunk)
        self.text += self._decoder.decode(data, not data)
        if not data:
            self.close()
        return True

    def ensure(self, position: int, count: int) -> None:
        """Read until ``text`` holds ``count`` characters from ``position`` on, or the file ends."""
        while len(self.text) < position + count and self.more():
            pass

    def find(self, char: str, position: int) -> int:
        """Index of the next ``char`` from ``position``, reading on as needed; -1 when the file ends first."""
        start = position
        while True:
            found = self.text.find(char, start)
            if found >= 0 or self.eof:
                return found
            start = len(self.text)
            self.more()

    def skip_space(self, position: int) -> int:
        """The first position from ``position`` that is not whitespace (``len(text)`` at the end of the file)."""
        while True:
            text = self.text
            while position < len(text) and text[position].isspace():
                position += 1
            if position < len(text) or not self.more():
                return position

    def drop(self, position: int) -> int:
        """Forget the text before ``position`` once it is large; returns where ``position`` now is."""
        if position < self._chunk:
            return position
        self.text = self.text[position:]
        return 0

    def rest(self, position: int, limit: int) -> str:
        """Up to ``limit`` characters from ``position`` to the end of the file; the remainder is read and dropped."""
        self.ensure(position, limit)
        kept = self.text[position : position + limit]
        while self.more():
            self.text = ""
        self.text = ""
        return kept

    def close(self) -> None:
        self.eof = True
        self._file.close()

    def __enter__(self) -> TextWindow:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
