"""A `cmi run` killed mid-night is marked failed with its cause and raises an alert; dbt steps retry lock conflicts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
from dagster._core.storage.dagster_run import DagsterRun
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from assets import warehouse as warehouse_assets
from orchestration.alerts import ALERT_FILE
from orchestration.run_watch import HOST_TAG, PID_TAG, abandoned_runs, fail_abandoned_runs, process_is_alive
from orchestration.runtime import retries
from orchestration.runtime.dbt import prune_run_targets
from orchestration.runtime.resources import Artefacts, Warehouse
from orchestration.runtime.settings import DBT_PROJECT_DIR
from orchestration.runtime.transient import Backoff


def started_run(instance: dg.DagsterInstance, pid: int, host: str | None = None) -> DagsterRun:
    run = DagsterRun(
        job_name="nightly",
        run_id=f"run-{pid}-{host or 'here'}",
        status=dg.DagsterRunStatus.STARTED,
        tags={HOST_TAG: host or socket.gethostname(), PID_TAG: str(pid), "dagster/partition": "2025-06-30"},
    )
    return instance.add_run(run)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_run_whose_process_was_killed_is_marked_failed_and_alerted(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    killed = started_run(instance, dead_pid())
    running = started_run(instance, os.getppid())  # a live process: left alone
    elsewhere = started_run(instance, dead_pid(), host="another-host")  # cannot be judged from here
    handled = fail_abandoned_runs(instance, tmp_path)
    assert [run.run_id for run, _ in handled] == [killed.run_id]
    assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(running.run_id).status == dg.DagsterRunStatus.STARTED
    assert instance.get_run_by_id(elsewhere.run_id).status == dg.DagsterRunStatus.STARTED
    (alert,) = [json.loads(line) for line in (tmp_path / ALERT_FILE).read_text().splitlines()]
    assert alert["title"] == "Run killed or crashed" and alert["run_id"] == killed.run_id
    assert f"process {killed.tags[PID_TAG]}" in alert["text"] and "ended without finishing" in alert["text"]
    failure = instance.all_logs(killed.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    assert failure and "Run killed or crashed" in failure[0].message
    assert fail_abandoned_runs(instance, tmp_path) == [], "raised once"


def test_liveness_is_judged_by_the_process_table():
    assert process_is_alive(os.getpid())
    assert not process_is_alive(dead_pid())
    instance = dg.DagsterInstance.ephemeral()
    started_run(instance, os.getpid())
    assert abandoned_runs(instance) == [], "the current process never abandons its own run"


class LockedOnceDbt(dg.ConfigurableResource):
    """dbt whose first `docs generate` meets another process's lock on the warehouse file; each start writes down
    the business date in the environment dbt would start in."""

    calls_file: str
    project_dir: str = str(DBT_PROJECT_DIR)

    def cli(self, args, target_path: Path, **_):
        calls = Path(self.calls_file)
        started_with = Path(self.calls_file + ".dates")
        as_of = os.environ.get(warehouse_assets.AS_OF_DATE_ENV, "unset")
        started_with.write_text((started_with.read_text() if started_with.exists() else "") + as_of + "\n")
        calls.write_text(calls.read_text() + "x" if calls.exists() else "x")
        first = len(calls.read_text()) == 1
        return _Invocation(Path(target_path), first)


class _Invocation:
    def __init__(self, target: Path, locked: bool) -> None:
        self.target, self.locked = target, locked

    def wait(self):
        if self.locked:
            raise DagsterDbtCliRuntimeError(
                'dbt command failed with exit code `2`: IO Error: Could not set lock on file "warehouse.duckdb": '
                "Conflicting lock is held"
            )
        for name in warehouse_assets.DBT_DOCS_FILES:
            (self.target / name).write_text("{}" if name.endswith(".json") else "<html></html>")
        return self


def test_dbt_docs_retries_a_lock_conflict_like_every_warehouse_step(tmp_path, monkeypatch):
    monkeypatch.setattr(retries.retry_on_transient.__wrapped__, "__defaults__", (Backoff(base_seconds=0.01), None))
    result = dg.materialize(
        [warehouse_assets.dbt_docs],
        partition_key="2025-06-30",
        resources={
            "dbt": LockedOnceDbt(calls_file=str(tmp_path / "calls")),
            "warehouse": Warehouse(path=str(tmp_path / "warehouse.duckdb")),
            "artefacts": Artefacts(data_dir=str(tmp_path / "data")),
        },
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )
    assert result.success
    retried = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert len(retried) == 1
    assert (tmp_path / "calls").read_text() == "xx"
    # dbt started both times with the night's date in its environment, which is this process's again after.
    assert (tmp_path / "calls.dates").read_text().split() == ["2025-06-30", "2025-06-30"]
    assert warehouse_assets.AS_OF_DATE_ENV not in os.environ


def test_dbt_run_target_folders_are_bounded(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    (target / "manifest.json").write_text("{}")
    (target / ".parse-abc").mkdir()
    now = time.time()
    for age in range(8):
        folder = target / f"warehouse_models-run{age}-abc"
        folder.mkdir()
        os.utime(folder, (now - age * 60, now - age * 60))
    removed = prune_run_targets(target, keep=5)
    assert sorted(p.name for p in removed) == [f"warehouse_models-run{age}-abc" for age in (5, 6, 7)]
    left = sorted(p.name for p in target.iterdir())
    assert ".parse-abc" in left and "manifest.json" in left and len(left) == 7
