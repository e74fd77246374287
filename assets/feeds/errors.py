"""Errors raised while reading partner configuration, partner feeds and supplier master data.

Each error names the file it is about, so an operator can act on the message alone.
"""

from __future__ import annotations

from pathlib import Path


class FeedError(Exception):
    """A delivered file that cannot be used as a whole; the loader quarantines it.

    ``location`` pinpoints the problem inside the file ("line 1", "segment 12") when it is known.
    """

    def __init__(self, path: Path | str, location: str | None, reason: str) -> None:
        self.path = Path(path)
        self.location = location
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.location:
            return f"{self.path}: {self.location}: {self.reason}"
        return f"{self.path}: {self.reason}"

    def __reduce__(self):
        return (type(self), (self.path, self.location, self.reason))

    def named(self, name: str) -> str:
        """The message with ``name`` for the file (its landing path, as the ledger has it) instead of where it was
        read: a ledger reason stays the same wherever the landing is (a rebuild reads the archive's copies)."""
        return f"{name}: {self.location}: {self.reason}" if self.location else f"{name}: {self.reason}"


def check_control_count(
    path: Path | str, segment_number: int, label: str, declared: str, counted: int, noun: str, actual: str | None = None
) -> None:
    """An EDI trailer's control count (SE01, CTT01, GE01, IEA01, UNT, UNE, UNZ) must equal what the file holds.

    A mismatch means the interchange was cut or edited in transit, so the whole file is refused, naming the segment.
    """
    if declared.isdigit() and int(declared) == counted:
        return
    raise FeedError(
        path,
        f"segment {segment_number}",
        f"{label} says {declared or 'nothing'} {noun} but {actual or f'{counted} were sent'}",
    )


class PartnerConfigError(ValueError):
    """A partner YAML file that is malformed or describes an impossible feed; names the file and the key."""

    def __init__(self, path: Path | str, key: str | None, reason: str) -> None:
        self.path = Path(path)
        self.key = key
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.key:
            return f"{self.path}: {self.key}: {self.reason}"
        return f"{self.path}: {self.reason}"

    def __reduce__(self):
        return (type(self), (self.path, self.key, self.reason))


class MasterDataError(ValueError):
    """Supplier master data that is missing or cannot be loaded; names the folder or file."""
