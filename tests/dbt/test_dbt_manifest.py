"""The dbt manifest the definitions load: parsed when stale, and never seen half written."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

from dagster_dbt import DbtProject

from orchestration.runtime.dbt import ensure_manifest, manifest_is_stale
from orchestration.runtime.settings import DBT_PROJECT_DIR


def test_processes_loading_a_fresh_checkout_together_only_ever_read_a_whole_manifest(tmp_path, monkeypatch):
    project_dir = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project_dir, ignore=shutil.ignore_patterns("target", "logs"))
    project = DbtProject(project_dir=project_dir, profiles_dir=project_dir)
    manifest = Path(project.manifest_path)
    assert manifest_is_stale(project)

    parsers_done = threading.Event()
    read_whole = threading.Event()
    torn_reads: list[str] = []
    whole_reads = 0
    real_replace = os.replace

    def replace_then_wait_for_a_read(source, target) -> None:
        """Both parsers finish at nearly the same moment, which leaves the reader little time: each stays in its
        parse after the rename until the reader has read a manifest, so reads always happen while parsing goes on."""
        real_replace(source, target)
        if Path(target) == manifest:
            read_whole.wait(timeout=60)

    monkeypatch.setattr(os, "replace", replace_then_wait_for_a_read)

    def read_while_parsing() -> None:
        nonlocal whole_reads
        while not parsers_done.is_set():
            try:
                text = manifest.read_bytes()
            except FileNotFoundError:
                continue
            try:
                json.loads(text)
                whole_reads += 1
                read_whole.set()
            except ValueError as error:
                torn_reads.append(str(error))

    reader = threading.Thread(target=read_while_parsing)
    reader.start()
    parsers = [threading.Thread(target=ensure_manifest, args=(project,)) for _ in range(2)]
    for parser in parsers:
        parser.start()
    for parser in parsers:
        parser.join()
    parsers_done.set()
    reader.join()

    assert torn_reads == []
    assert whole_reads > 0, "the reader never read the manifest while the parsers ran: nothing was checked"
    assert "nodes" in json.loads(manifest.read_bytes())
    assert not manifest_is_stale(project)
    assert [path.name for path in manifest.parent.iterdir() if path.name.startswith(".parse-")] == []
