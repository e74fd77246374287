"""A step of the night is retried after a transient failure and fails at once on a deterministic one (in process)."""

from __future__ import annotations

import errno
from datetime import date

import dagster as dg
import duckdb
import pytest

import assets.ingest
from assets.feeds.demo import generate_demo
from assets.ingest import supplier_master_data
from orchestration.runtime import settings
from orchestration.runtime.resources import FeedFolders, Warehouse


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("landing")
    generate_demo(root, settings.partner_config_dir(), seed=3, days=70, end_date=date(2025, 6, 30), scale="small")
    return root


def materialize_master_data(tmp_path, landing_dir) -> dg.ExecuteInProcessResult:
    """Master data on its own, as the landing sensor runs it: unpartitioned, so the run names no business date."""
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"), step_retries=2, step_retry_base_seconds=0.01)
    return dg.materialize(
        [supplier_master_data],
        resources={"warehouse": warehouse, "feed_folders": FeedFolders(landing_dir=str(landing_dir))},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def events_of(result: dg.ExecuteInProcessResult, event_type: dg.DagsterEventType) -> list:
    return [event for event in result.all_events if event.event_type == event_type]


def test_master_data_load_is_retried_after_an_io_error_on_the_landing_share(tmp_path, landing, monkeypatch):
    real_load = assets.ingest.load_master_data
    attempts = []

    def load_failing_once(conn, supplier_dir):
        attempts.append(supplier_dir)
        if len(attempts) == 1:
            raise OSError(errno.EIO, "Input/output error", str(supplier_dir / "products.csv"))
        return real_load(conn, supplier_dir)

    monkeypatch.setattr(assets.ingest, "load_master_data", load_failing_once)
    result = materialize_master_data(tmp_path, landing)
    assert result.success
    assert len(attempts) == 2
    assert len(events_of(result, dg.DagsterEventType.STEP_UP_FOR_RETRY)) == 1
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as conn:
        assert conn.execute("select count(*) from raw.partners").fetchone()[0] == 3


def test_missing_master_data_fails_at_once_without_a_retry(tmp_path, monkeypatch):
    real_load = assets.ingest.load_master_data
    attempts = []

    def counting_load(conn, supplier_dir):
        attempts.append(supplier_dir)
        return real_load(conn, supplier_dir)

    monkeypatch.setattr(assets.ingest, "load_master_data", counting_load)
    empty_landing = tmp_path / "landing"
    empty_landing.mkdir()
    result = materialize_master_data(tmp_path, empty_landing)
    assert not result.success
    assert len(attempts) == 1
    assert events_of(result, dg.DagsterEventType.STEP_UP_FOR_RETRY) == []
    failure = events_of(result, dg.DagsterEventType.STEP_FAILURE)[0]
    assert "supplier master data folder does not exist" in str(failure.step_failure_data.error)


def test_a_step_that_keeps_failing_transiently_gives_up_after_its_retries(tmp_path, landing, monkeypatch):
    attempts = []

    def always_locked(conn, supplier_dir):
        attempts.append(supplier_dir)
        raise duckdb.IOException('IO Error: Could not set lock on file "warehouse.duckdb": Conflicting lock is held')

    monkeypatch.setattr(assets.ingest, "load_master_data", always_locked)
    result = materialize_master_data(tmp_path, landing)
    assert not result.success
    assert len(attempts) == 3, "the first attempt and two retries"
    assert len(events_of(result, dg.DagsterEventType.STEP_UP_FOR_RETRY)) == 2
