"""One pass over a delivered file: its content hash, with each chunk shown to whoever needs to know the bytes.

Every delivered file is hashed (SHA-256 is its ledger key), and the delimited fast path also needs facts about
its bytes (line ends, white space, control characters). Reading a large file whole and scanning it once per
question costs more than all the questions: the bytes come from memory each time. Here the file is read in
chunks small enough to stay in the CPU cache; each chunk is hashed on a second thread while the observers look
at it on this one, so on two cores the hash costs little more than the read.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

CHUNK_BYTES = 1 << 20


class ChunkObserver(Protocol):
    def observe(self, buffer: bytes | bytearray, length: int) -> None:
        """Look at ``buffer[:length]``, the next chunk of the file; ``buffer`` is reused once this returns."""


def open_regular(path: str | bytes | os.PathLike, flags: int = os.O_RDONLY) -> int:
    """Open a regular file for reading, never through a symbolic link and never blocking on a pipe.

    The landing is written by partners: a file seen as regular a moment ago may have been swapped for a link
    (ELOOP is raised) or a FIFO (EINVAL), and neither may be read.
    """
    descriptor = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise OSError(errno.EINVAL, "not a regular file", os.fsdecode(path))
    return descriptor


def hash_file(path: Path, observers: Sequence[ChunkObserver] = (), *, chunk_bytes: int = CHUNK_BYTES) -> str:
    """The SHA-256 of the file's bytes (hex), showing every chunk to ``observers`` in file order."""
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0, opener=open_regular) as file:
        # Two buffers: the next chunk is read into one while the other is still being hashed.
        buffers = [bytearray(chunk_bytes), bytearray(chunk_bytes)]
        length = file.readinto(buffers[0])
        if length < chunk_bytes:  # the whole file in one chunk: no thread worth starting
            digest.update(memoryview(buffers[0])[:length])
            for observer in observers:
                observer.observe(buffers[0], length)
            return digest.hexdigest()
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cmi-hash") as hasher:
            hashing: Future[None] | None = None
            current = 0
            while length:
                buffer = buffers[current]
                if hashing is not None:
                    hashing.result()  # the other buffer is free again once its chunk is hashed
                # hashlib releases the GIL on large buffers, so this runs beside the observers.
                hashing = hasher.submit(digest.update, memoryview(buffer)[:length])
                for observer in observers:
                    observer.observe(buffer, length)
                current = 1 - current
                length = file.readinto(buffers[current])
            if hashing is not None:
                hashing.result()
    return digest.hexdigest()
