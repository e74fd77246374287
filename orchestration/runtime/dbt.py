"""The one dbt project, and making sure its manifest exists and is current before Dagster reads it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from dagster_dbt import DbtProject

from orchestration.runtime.settings import DBT_PROJECT_DIR


def dbt_project() -> DbtProject:
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_executable() -> Path:
    """The dbt installed beside this interpreter, so `.venv/bin/cmi` works without an activated venv."""
    return Path(sys.executable).with_name("dbt")


def _project_sources(project_dir: Path) -> list[Path]:
    """The files dbt reads to build the project: its config, models, macros, tests and seeds."""
    watched = [project_dir / "dbt_project.yml", project_dir / "profiles.yml"]
    for folder in ("models", "macros", "tests", "seeds"):
        watched.extend(p for p in (project_dir / folder).rglob("*") if p.is_file())
    return sorted(p for p in watched if p.exists())


def _newest_source_mtime(project_dir: Path) -> float:
    return max((p.stat().st_mtime for p in _project_sources(project_dir)), default=0.0)


def docs_fingerprint(project_dir: Path, schema: list[tuple], dbt_version: str) -> str:
    """What dbt's docs of the warehouse are made of: the project's files, the warehouse's tables and columns
    (``schema``: rows of schema, table, column, type) and dbt's version. The same fingerprint, the same docs."""
    digest = hashlib.sha256(dbt_version.encode())
    for path in _project_sources(project_dir):
        digest.update(str(path.relative_to(project_dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    for row in schema:
        digest.update("\x1f".join(map(str, row)).encode() + b"\n")
    return digest.hexdigest()


def manifest_is_stale(project: DbtProject) -> bool:
    """A missing manifest, or one older than any model, macro or test, must be parsed again."""
    manifest = Path(project.manifest_path)
    return not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime(Path(project.project_dir))


def ensure_manifest(project: DbtProject) -> Path:
    """Run `dbt parse` when the manifest is stale; parsing needs no warehouse connection.

    Several processes load the definitions at once (`dagster dev`'s webserver and daemon, a backfill beside the
    daemon), and on a fresh checkout each finds the manifest missing. Each parses into a scratch folder of its own
    and renames the manifest into place, so a reader never sees a half-written file.
    """
    manifest = Path(project.manifest_path)
    if manifest_is_stale(project):
        manifest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=manifest.parent, prefix=".parse-") as scratch:
            subprocess.run(
                [
                    str(dbt_executable()),
                    "parse",
                    "--quiet",
                    "--project-dir",
                    str(project.project_dir),
                    "--profiles-dir",
                    str(project.profiles_dir),
                    "--target-path",
                    scratch,
                ],
                check=True,
                cwd=project.project_dir,
            )
            os.replace(Path(scratch) / manifest.name, manifest)
    return manifest


# dbt's saved parse of the project. dagster-dbt copies the one in the project's target folder into each invocation's
# own folder before dbt starts, and dbt reads it there and parses again only the files that changed since.
PARTIAL_PARSE = "partial_parse.msgpack"


def keep_partial_parse(run_target: Path, target_dir: Path) -> Path | None:
    """Keep the parse dbt saved in one invocation's folder (``run_target``) in the project's target folder, where
    the next invocation starts from it; returns where it went (None when dbt saved none).

    dbt itself decides whether a saved parse still fits (the project's files, dbt's version, the vars and the
    profile, so another warehouse's or an older project's parse is parsed again in full), so keeping the newest one
    is always safe. Written beside it and renamed over it: a dbt starting at the same moment copies a whole file.
    """
    source = Path(run_target) / PARTIAL_PARSE
    if not source.is_file():
        return None
    target_dir = Path(target_dir)
    target_dir.mkdir(parents=True, exist_ok=True)
    with (
        source.open("rb") as saved,
        tempfile.NamedTemporaryFile(dir=target_dir, prefix=".parse-", delete=False) as scratch,
    ):
        shutil.copyfileobj(saved, scratch)
    kept = target_dir / PARTIAL_PARSE
    try:
        os.replace(scratch.name, kept)
    except OSError:
        Path(scratch.name).unlink(missing_ok=True)
        raise
    return kept


# dagster-dbt gives every invocation a target folder of its own (`<op>-<run>-<id>`, about 14 MB each): kept for the
# last few runs, to look into a recent failure, and removed after that so `dbt_project/target` stays bounded.
KEEP_RUN_TARGETS = 5


def prune_run_targets(target_dir: Path, keep: int = KEEP_RUN_TARGETS) -> list[Path]:
    """Remove all but the ``keep`` newest per-invocation folders in dbt's target folder; returns what went.

    The project's own files there (manifest, partial parse) and parse scratch folders (``.parse-*``) stay.
    """
    target_dir = Path(target_dir)
    if not target_dir.is_dir():
        return []
    folders = [
        entry
        for entry in target_dir.iterdir()
        if entry.is_dir() and not entry.is_symlink() and not entry.name.startswith(".")
    ]
    folders.sort(key=lambda folder: folder.stat().st_mtime, reverse=True)
    removed = []
    for folder in folders[keep:]:
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


# DuckDB, held to its memory limit (profiles.yml), spills into `<warehouse>.tmp` beside the warehouse: at 99,900
# series a first build wrote 33 GB there beside a 10.8 GB warehouse (README, "A night at 99,900 series").
SPILL_ROOM_FACTOR = 3


def spill_room_warning(warehouse: Path, factor: float = SPILL_ROOM_FACTOR) -> str | None:
    """A warning to log before dbt builds when the warehouse's disk has less free room than ``factor`` times the
    warehouse, which a first build or a ``--full-refresh`` at supplier size may spill; None when it has the room
    (or the warehouse does not exist yet). Later nights re-build only their windows and spill far less, so the
    warning says what may happen, and the build goes on."""
    try:
        size = warehouse.stat().st_size
    except FileNotFoundError:
        return None
    free = shutil.disk_usage(warehouse.parent).free
    if free >= factor * size:
        return None
    return (
        f"only {free / 1e9:,.1f} GB free on the disk of the warehouse ({size / 1e9:,.1f} GB): a first build or a "
        f"--full-refresh may spill up to about {factor * size / 1e9:,.0f} GB into {warehouse}.tmp, and a full disk "
        "fails the build with 'No space left on device'"
    )
