"""The warning before dbt builds on a disk too small for DuckDB's spill."""

from __future__ import annotations

import shutil
from collections import namedtuple

from orchestration.runtime.dbt import spill_room_warning

Usage = namedtuple("Usage", "total used free")


def free_space(monkeypatch, free: int) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10 * free, 9 * free, free))


def test_a_disk_with_three_times_the_warehouse_free_gets_no_warning(tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes(b"x" * 1000)
    free_space(monkeypatch, 3000)
    assert spill_room_warning(warehouse) is None


def test_a_disk_with_less_room_is_named_with_the_sizes_and_the_spill_folder(tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes(b"x" * 1000)
    free_space(monkeypatch, 2999)
    warning = spill_room_warning(warehouse)
    assert warning is not None
    assert f"{warehouse}.tmp" in warning and "No space left on device" in warning


def test_a_warehouse_not_created_yet_gets_no_warning(tmp_path):
    assert spill_room_warning(tmp_path / "new.duckdb") is None
