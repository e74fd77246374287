"""Landing files: names from a partner's file spec, and bytes stamped with their simulated delivery time."""

from __future__ import annotations

import os
from pathlib import Path

from assets.feeds.partner_config import FileSpec


def write_file(path: Path, content: bytes, mtime: float) -> None:
    """Write ``content`` with ``mtime`` as its modification time, as if it had arrived then."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, (mtime, mtime))


def file_name(spec: FileSpec, token: str) -> str:
    """The spec's pattern with its single ``*`` replaced by ``token`` (a date or date range, maybe ``_2``)."""
    if spec.pattern.count("*") != 1 or any(char in spec.pattern for char in "?[]/"):
        raise ValueError(f"demo files need a pattern with exactly one '*' and no other wildcard: {spec.pattern}")
    return spec.pattern.replace("*", token)
