"""The landing folder as a boundary: which entries of a partner folder are deliveries, and which are refused.

Partners write into ``<landing>/<partner_id>/``. Nothing found there is trusted: a symbolic link may point at
``/etc/passwd`` or at another partner's folder, a FIFO blocks whoever opens it, a name may not be UTF-8, folders
may nest without end. The walk never follows a symbolic link (neither a partner folder nor anything inside one)
and never opens anything that is not a regular file inside the partner's own folder; everything else becomes a
:class:`LandingEntry` with a ``refusal`` that the loader records in the ledger.

Names are kept as the bytes the file system gave (``name_bytes``) and shown safely (``relative``): bytes that are
not UTF-8 as ``\\xNN`` and control characters escaped, so no ledger row, log line or report can be broken by one.
Names starting with "." (hidden, often an upload in progress) are refused with that reason, never skipped
silently; sub-folders starting with "_" are the partner's own (e.g. ``_processed``) and are left alone.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from assets.feeds.loading.limits import FileLimits

HIDDEN = "."
PRIVATE = "_"


@dataclass(frozen=True)
class LandingEntry:
    """One thing found in a partner folder: a regular file to load, or an entry refused with a reason."""

    partner_id: str  # the partner folder's name, shown safely
    relative: str  # landing-relative path with forward slashes, shown safely
    path: Path  # where it is (never opened when refused)
    name_bytes: bytes  # the partner-relative path as the file system gave it
    refusal: str | None = None
    regular: bool = False  # a regular file inside the partner folder: safe to hash, copy and archive
    size: int = 0
    mtime: float = 0.0

    @property
    def refused_id(self) -> str:
        """The ledger key of a refused entry: its content is never read, so its path bytes stand in for a hash."""
        return "refused:" + hashlib.sha256(self.relative.encode("utf-8", "surrogateescape")).hexdigest()


def safe_name(raw: bytes) -> str:
    """A name's bytes as printable text: UTF-8 as is, other bytes as ``\\xNN``, control characters escaped."""
    text = raw.decode("utf-8", errors="backslashreplace")
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def name_problem(raw: bytes) -> str | None:
    """Why a file name cannot be carried into the warehouse and reports as text, or None when it can."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return f"file name is not valid UTF-8 (name bytes, hex: {raw.hex()}); rename the file and send it again"
    if not all(char.isprintable() or char == "/" for char in text):
        return f"file name holds control characters (name bytes, hex: {raw.hex()}); rename the file and send it again"
    return None


def partner_folders(landing: Path, partners: Collection[str] | None = None) -> Iterator[tuple[str, Path, str | None]]:
    """``(partner_id, folder, refusal)`` for each partner folder in the landing, in name order, links refused.

    Folders starting with "_" (our own, such as ``_supplier``) or "." are not partner folders, nor are files
    lying directly in the landing folder.
    """
    with os.scandir(landing) as entries:
        found = sorted(entries, key=lambda entry: os.fsencode(entry.name))
    for entry in found:
        name = safe_name(os.fsencode(entry.name))
        if entry.name.startswith((HIDDEN, PRIVATE)) or (partners is not None and name not in partners):
            continue
        if entry.is_symlink():
            yield (
                name,
                Path(entry.path),
                "symbolic link refused: a partner folder must be a real folder inside the landing",
            )
        elif entry.is_dir(follow_symlinks=False):
            yield name, Path(entry.path), None


def walk_partner(landing: Path, partner_id: str, folder: Path, limits: FileLimits) -> Iterator[LandingEntry]:
    """Every entry of one partner folder, depth first in byte order of the names; nothing followed, nothing opened.

    Regular files come with their size and modification time (from ``lstat``); symbolic links, special files,
    hidden names and folders nested deeper than ``limits.max_folder_depth`` come refused.
    """
    base = os.fsencode(folder)
    landing_base = os.fsencode(landing)

    def entry(path: bytes, refusal: str | None, info: os.stat_result | None = None) -> LandingEntry:
        inside = os.path.relpath(path, base)
        relative = safe_name(os.path.relpath(path, landing_base).replace(os.sep.encode(), b"/"))
        return LandingEntry(
            partner_id,
            relative,
            Path(os.fsdecode(path)),
            inside,
            refusal,
            regular=info is not None,
            size=info.st_size if info is not None else 0,
            mtime=info.st_mtime if info is not None else 0.0,
        )

    def visit(directory: bytes, depth: int) -> Iterator[LandingEntry]:
        with os.scandir(directory) as scanned:
            children = sorted(scanned, key=lambda child: child.name)
        for child in children:
            path = child.path
            name = child.name
            info = child.stat(follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                yield entry(path, "symbolic link refused: links are never followed (deliver the file itself)")
            elif stat.S_ISDIR(info.st_mode):
                if name.startswith(PRIVATE.encode()):
                    continue
                if name.startswith(HIDDEN.encode()):
                    yield entry(path, "hidden folder (name starts with '.'): not read; rename it to deliver its files")
                elif depth >= limits.max_folder_depth:
                    yield entry(
                        path,
                        f"folder nested deeper than the limit (limits.max_folder_depth = {limits.max_folder_depth}): "
                        "its files are not read",
                    )
                else:
                    yield from visit(path, depth + 1)
            elif not stat.S_ISREG(info.st_mode):
                yield entry(path, "not a regular file (a device, pipe or socket): never opened")
            elif name.startswith(HIDDEN.encode()):
                yield entry(
                    path,
                    "hidden file (name starts with '.', as uploads in progress are): not loaded; "
                    "rename it to deliver it",
                    info,
                )
            else:
                yield entry(path, name_problem(os.path.relpath(path, base)), info)

    yield from visit(base, 1)
