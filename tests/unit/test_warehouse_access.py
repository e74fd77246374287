import subprocess
import sys

import duckdb
import pytest
import yaml

from assets.reports import publish_snapshot
from orchestration.runtime import settings
from orchestration.runtime.resources import Warehouse, connect_with_backoff


def test_lock_conflicts_are_retried_with_growing_waits(tmp_path, monkeypatch):
    attempts = []

    def flaky_connect(path, read_only=False):
        attempts.append(path)
        if len(attempts) < 3:
            raise duckdb.IOException('Could not set lock on file "w.duckdb": Conflicting lock is held')
        return "connection"

    waits = []
    monkeypatch.setattr(duckdb, "connect", flaky_connect)
    assert connect_with_backoff(tmp_path / "w.duckdb", False, 5, 0.5, sleep=waits.append) == "connection"
    assert waits == [0.5, 1.0]


def test_other_errors_and_exhausted_retries_are_raised(tmp_path, monkeypatch):
    def locked(path, read_only=False):
        raise duckdb.IOException("Could not set lock on file")

    monkeypatch.setattr(duckdb, "connect", locked)
    with pytest.raises(duckdb.IOException):
        connect_with_backoff(tmp_path / "w.duckdb", False, 2, 0.1, sleep=lambda _: None)

    def corrupt(path, read_only=False):
        raise duckdb.IOException("not a valid DuckDB database file")

    calls = []
    monkeypatch.setattr(duckdb, "connect", corrupt)
    with pytest.raises(duckdb.IOException, match="not a valid"):
        connect_with_backoff(tmp_path / "w.duckdb", False, 5, 0.1, sleep=calls.append)
    assert calls == []


def test_snapshot_is_readable_while_another_process_writes_the_live_file(tmp_path):
    live, snapshot = tmp_path / "live.duckdb", tmp_path / "snap" / "warehouse.duckdb"
    with duckdb.connect(str(live)) as conn:
        conn.execute("create table plan as select range as id from range(1000)")
    publish_snapshot(live, snapshot)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(live)!r}); "
            "c.execute('insert into plan select range from range(5)'); print('locked', flush=True); time.sleep(5)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "locked"
        with duckdb.connect(str(snapshot), read_only=True) as reader:
            assert reader.execute("select count(*) from plan").fetchone()[0] == 1000
    finally:
        writer.kill()
        writer.wait()
    assert not list(snapshot.parent.glob(".*.tmp"))


def test_a_step_s_connection_has_the_same_duckdb_memory_limit_as_dbt_s_build(tmp_path):
    """Without one, DuckDB caches the pages a step scans up to 80 % of the machine: the night's memory would follow
    the warehouse's size, not the step's work. With it, a step's connection and dbt's spill at the same bound."""
    profile = yaml.safe_load((settings.DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))
    assert (
        Warehouse.model_fields["memory_limit"].default == profile["cmi"]["outputs"]["dev"]["settings"]["memory_limit"]
    )
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as plain:
        default = plain.execute("select current_setting('memory_limit')").fetchone()[0]
    for read_only in (False, True):
        with Warehouse(path=str(path), memory_limit="300MB").connect(read_only=read_only) as conn:
            limit = conn.execute("select current_setting('memory_limit')").fetchone()[0]
        assert limit == "286.1 MiB" != default
