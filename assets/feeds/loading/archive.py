"""The feed archive: every delivered file, content-addressed and immutable, outside the landing partners write to.

The landing is the partners' to change: they delete, overwrite and rename. To rebuild the warehouse from scratch
(``cmi rebuild``) every night must be replayable from what was delivered, so each regular file the loader sees is
kept here once per content, under ``objects/<sha256[:2]>/<sha256>`` (read-only; a file is written to a temporary
name and renamed into place, so a crash never leaves a half object), and each delivery, i.e. each (content,
landing path), is one line of ``deliveries.jsonl``: partner, path as shown and as raw bytes (hex), content hash,
size and when it was received. Lines are only appended.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

MANIFEST = "deliveries.jsonl"
OBJECTS = "objects"


@dataclass(frozen=True)
class Delivery:
    """One delivered file as the archive remembers it."""

    partner_id: str  # the landing folder name (`_supplier` for our own master data)
    path: str  # landing-relative, shown safely
    path_hex: str  # the landing-relative path's bytes, hex: restores a non-UTF-8 name exactly
    source_file_id: str  # SHA-256 of the content
    size: int
    received_at: str  # ISO timestamp, naive UTC (the file's modification time when it was seen)

    @property
    def received(self) -> datetime:
        return datetime.fromisoformat(self.received_at)

    @property
    def raw_path(self) -> bytes:
        return bytes.fromhex(self.path_hex)


class FeedArchive:
    """The archive folder; :meth:`keep` is idempotent per delivery."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._known: set[tuple[str, str]] | None = None

    def object_path(self, source_file_id: str) -> Path:
        return self.root / OBJECTS / source_file_id[:2] / source_file_id

    def keep(self, file: Path, delivery: Delivery) -> None:
        """Store the file's content (once per hash) and record the delivery (once per content and path).

        The content is copied only when its object is missing; ``file`` must be a regular file (the walk checked).
        """
        target = self.object_path(delivery.source_file_id)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, scratch = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
            try:
                with os.fdopen(handle, "wb") as out, open(file, "rb") as source:
                    shutil.copyfileobj(source, out, 1 << 20)
                os.chmod(scratch, 0o444)
                os.replace(scratch, target)
            except BaseException:
                Path(scratch).unlink(missing_ok=True)
                raise
        key = (delivery.source_file_id, delivery.path_hex)
        if key in self._known_deliveries():
            return
        with (self.root / MANIFEST).open("a", encoding="utf-8") as manifest:
            manifest.write(json.dumps(asdict(delivery), ensure_ascii=False) + "\n")
        self._known_deliveries().add(key)

    def deliveries(self) -> list[Delivery]:
        """Every recorded delivery, in the order they were archived."""
        return list(_read_manifest(self.root / MANIFEST))

    def _known_deliveries(self) -> set[tuple[str, str]]:
        if self._known is None:
            self._known = {(d.source_file_id, d.path_hex) for d in _read_manifest(self.root / MANIFEST)}
        return self._known


def keep_folder(archive: FeedArchive, folder: Path, landing: Path) -> int:
    """Keep every regular file lying directly in ``folder`` (our own ``_supplier`` master data); links are skipped.

    Returns how many files were seen.
    """
    from assets.feeds.loading.file_scan import hash_file

    if not folder.is_dir() or folder.is_symlink():
        return 0
    seen = 0
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda entry: entry.name):
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                continue
            raw = os.fsencode(os.path.relpath(entry.path, landing))
            received = datetime.fromtimestamp(info.st_mtime, UTC).replace(tzinfo=None)
            file_id = hash_file(Path(entry.path))
            shown = raw.decode("utf-8", "backslashreplace")
            archive.keep(
                Path(entry.path), Delivery(folder.name, shown, raw.hex(), file_id, info.st_size, received.isoformat())
            )
            seen += 1
    return seen


def _read_manifest(path: Path) -> Iterator[Delivery]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as manifest:
        for line in manifest:
            if line.strip():
                yield Delivery(**json.loads(line))
