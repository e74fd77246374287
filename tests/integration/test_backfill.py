"""A Dagster backfill of past nights writes the tables `cmi run --as-of` writes night by night; a rerun changes nothing.

Two warehouses on one small demo landing. In the first, `cmi run --as-of` runs the nights one after another, as an
engineer catching up would. In the second, `dagster job backfill` records a backfill of the `nightly` job over the
same dates in a Dagster instance configured as `cmi` configures its own (one run at a time: DuckDB has a single
writer), and `dagster-daemon` launches its queued runs. Both run side by side; their results are compared per date
(plans, forecasts, quality results) and as a whole (every table of the warehouse after the last night).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml

from assets.feeds.demo import generate_demo
from orchestration.cli import DAGSTER_YAML
from orchestration.jobs import NIGHTLY_JOB_NAME
from orchestration.runtime import settings

pytestmark = pytest.mark.integration

# Two nights: the first is replayed after the second has run, and sees none of the files that came after it.
NIGHTS = [date(2025, 6, 29), date(2025, 6, 30)]
RERUN = NIGHTS[0]
# Columns that say when, or in which run, a row was written: they differ between any two runs by design.
RUN_COLUMNS = {"run_id", "created_at", "planned_at", "checked_at", "loaded_at"}
# Tables the night's Python steps write per business date; dbt's schemas hold the state of the latest night run.
PER_DATE_SCHEMAS = ("raw", "quality", "forecasts", "replenishment")
# Files the night hands on: per-partner plan exports, and the quarantined copies of bad deliveries.
HANDED_ON = ("exports", "quarantine")
BACKFILL_TIMEOUT_SECONDS = 1200
BIN = Path(sys.executable).parent


def subprocess_env(root: Path, dagster_home: Path | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DAGSTER_HOME"}
    env[settings.WAREHOUSE_ENV] = str(root / "warehouse.duckdb")
    env[settings.LANDING_ENV] = str(root.parent / "landing")
    env[settings.DATA_DIR_ENV] = str(root)
    if dagster_home is not None:
        env["DAGSTER_HOME"] = str(dagster_home)
    return env


def cmi_run(root: Path, night: date) -> int:
    """`cmi run --as-of` as an engineer types it; `cmi` writes and uses its own Dagster home under the data dir."""
    return subprocess.run(
        [str(BIN / "cmi"), "run", "--as-of", night.isoformat()],
        env=subprocess_env(root, dagster_home=None),
        cwd=settings.PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=900,
    ).returncode


def warehouse_state(root: Path, schemas: tuple[str, ...] | None = None) -> dict[str, pd.DataFrame]:
    """Every table and view, without run columns, in a fixed row order."""
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as conn:
        relations = conn.execute(
            """select schema_name, table_name from duckdb_tables()
               union all select schema_name, view_name from duckdb_views() where not internal
               order by all"""
        ).fetchall()
        state = {}
        for schema, name in relations:
            if schemas is not None and schema not in schemas:
                continue
            columns = [row[0] for row in conn.execute(f'describe "{schema}"."{name}"').fetchall()]
            kept = ", ".join(f'"{column}"' for column in columns if column not in RUN_COLUMNS)
            state[f"{schema}.{name}"] = conn.execute(f'select {kept} from "{schema}"."{name}" order by all').df()
    return state


def handed_on_files(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for folder in HANDED_ON
        for path in sorted((root / folder).rglob("*"))
        if path.is_file()
    }


def night_outcomes(dagster_home: Path) -> list[dict]:
    """The `nightly` runs an instance holds, oldest first: date, status, start and end, and the steps that failed."""
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        records = instance.get_run_records(dg.RunsFilter(job_name=NIGHTLY_JOB_NAME), ascending=True)
        return [
            {
                "night": record.dagster_run.tags["dagster/partition"],
                "status": record.dagster_run.status,
                "finished": record.dagster_run.is_finished,
                "backfill": record.dagster_run.tags.get("dagster/backfill"),
                "start": record.start_time,
                "end": record.end_time,
                "failed_steps": sorted(
                    entry.dagster_event.step_key
                    for entry in instance.all_logs(record.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
                ),
            }
            for record in records
        ]
    finally:
        instance.dispose()


def start_backfill(root: Path) -> list[subprocess.Popen]:
    """Record a backfill of the nights, and start the daemon that launches its queued runs one at a time."""
    home = root / "dagster_home"
    home.mkdir(parents=True)
    instance_config = yaml.safe_load(DAGSTER_YAML)
    # The queue is read every second rather than every five, so the test does not wait between nights.
    instance_config["run_queue"]["dequeue_interval_seconds"] = 1
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance_config))
    # Create the instance's storage once, here: two processes creating it at the same moment stamp its schema
    # version twice, and neither can open it afterwards.
    dg.DagsterInstance.from_config(str(home)).dispose()
    workspace = str(settings.PROJECT_ROOT / "workspace.yaml")
    commands = {
        "backfill": [
            str(BIN / "dagster"),
            "job",
            "backfill",
            "-w",
            workspace,
            "-j",
            NIGHTLY_JOB_NAME,
            "--from",
            NIGHTS[0].isoformat(),
            "--to",
            NIGHTS[-1].isoformat(),
            "--noprompt",
        ],
        "daemon": [str(BIN / "dagster-daemon"), "run", "-w", workspace],
    }
    # Each in its own process group, so that stopping it also stops the code servers and runs it started.
    return [
        subprocess.Popen(
            command,
            env=subprocess_env(root, dagster_home=home),
            cwd=settings.PROJECT_ROOT,
            stdout=(root / f"{name}.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for name, command in commands.items()
    ]


def wait_for_backfill(root: Path, backfill: subprocess.Popen, daemon: subprocess.Popen) -> list[dict]:
    deadline = time.monotonic() + BACKFILL_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if backfill.poll() not in (None, 0):
            pytest.fail(f"dagster job backfill failed: see {root / 'backfill.log'}")
        if daemon.poll() is not None:
            pytest.fail(f"dagster-daemon stopped: see {root / 'daemon.log'}")
        outcomes = night_outcomes(root / "dagster_home")
        if len(outcomes) == len(NIGHTS) and all(outcome["finished"] for outcome in outcomes):
            return outcomes
        time.sleep(2)
    pytest.fail(f"the backfill did not finish in {BACKFILL_TIMEOUT_SECONDS} s: see {root / 'daemon.log'}")


def stop(process: subprocess.Popen) -> None:
    """Stop a process started by `start_backfill` and everything it started (its process group)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def nights_and_backfill(tmp_path_factory):
    root = tmp_path_factory.mktemp("backfill")
    generate_demo(
        root / "landing", settings.partner_config_dir(), seed=11, days=120, end_date=NIGHTS[-1], scale="small"
    )
    nights, backfill = root / "nights", root / "backfill"
    backfill.mkdir()
    processes = start_backfill(backfill)
    try:
        exit_codes = {night: cmi_run(nights, night) for night in NIGHTS}
        before_rerun = warehouse_state(nights), handed_on_files(nights)
        rerun_exit_code = cmi_run(nights, RERUN)
        after_rerun = warehouse_state(nights, PER_DATE_SCHEMAS), handed_on_files(nights)
        backfill_outcomes = wait_for_backfill(backfill, *processes)
    finally:
        for process in processes:
            stop(process)
    return {
        "exit_codes": exit_codes,
        "nights": before_rerun,
        "rerun": (rerun_exit_code, after_rerun),
        "night_outcomes": night_outcomes(nights / "dagster_home"),
        "backfill_outcomes": backfill_outcomes,
        "backfill": (warehouse_state(backfill), handed_on_files(backfill)),
    }


def differences(left: dict[str, pd.DataFrame], right: dict[str, pd.DataFrame]) -> list[str]:
    found = [f"{table}: only on one side" for table in sorted(set(left) ^ set(right))]
    for table in sorted(set(left) & set(right)):
        try:
            pd.testing.assert_frame_equal(left[table], right[table], check_dtype=False, rtol=1e-9, atol=1e-9)
        except AssertionError as error:
            found.append(f"{table}: {str(error).strip()[:600]}")
    return found


def rows_of(state: dict[str, pd.DataFrame], table: str, column: str, night: date) -> pd.DataFrame:
    frame = state.get(table, pd.DataFrame(columns=[column]))
    return frame[pd.to_datetime(frame[column]).dt.date == night].reset_index(drop=True)


def test_backfill_runs_one_night_at_a_time_in_date_order(nights_and_backfill):
    outcomes = nights_and_backfill["backfill_outcomes"]
    assert len({outcome["backfill"] for outcome in outcomes} - {None}) == 1, "one backfill launched every run"
    started = sorted(outcomes, key=lambda outcome: outcome["start"])
    assert [outcome["night"] for outcome in started] == [night.isoformat() for night in NIGHTS]
    for earlier, later in zip(started, started[1:], strict=False):
        assert later["start"] >= earlier["end"], f"{later['night']} started before {earlier['night']} ended"


def test_each_night_of_the_backfill_ends_as_cmi_run_ended_it(nights_and_backfill):
    by_cmi = {outcome["night"]: outcome for outcome in nights_and_backfill["night_outcomes"][: len(NIGHTS)]}
    for outcome in nights_and_backfill["backfill_outcomes"]:
        night = outcome["night"]
        assert outcome["status"] == by_cmi[night]["status"], night
        assert outcome["failed_steps"] == by_cmi[night]["failed_steps"], night
        assert (nights_and_backfill["exit_codes"][date.fromisoformat(night)] == 0) == (
            outcome["status"] == dg.DagsterRunStatus.SUCCESS
        )


@pytest.mark.parametrize(
    ("table", "date_column"),
    [
        ("replenishment.plan_history", "plan_date"),
        ("replenishment.exceptions", "plan_date"),
        ("forecasts.forecast_history", "as_of_date"),
        ("quality.check_results", "as_of_date"),
        ("quality.partner_data_gate", "as_of_date"),
    ],
)
@pytest.mark.parametrize("night", NIGHTS, ids=str)
def test_backfill_writes_each_night_what_the_night_wrote(nights_and_backfill, table, date_column, night):
    nights_state, _ = nights_and_backfill["nights"]
    backfill_state, _ = nights_and_backfill["backfill"]
    assert (
        differences(
            {table: rows_of(nights_state, table, date_column, night)},
            {table: rows_of(backfill_state, table, date_column, night)},
        )
        == []
    )


def test_every_table_and_handed_on_file_is_the_same_after_the_last_night(nights_and_backfill):
    nights_state, nights_files = nights_and_backfill["nights"]
    backfill_state, backfill_files = nights_and_backfill["backfill"]
    assert differences(nights_state, backfill_state) == []
    assert sorted(nights_files) == sorted(backfill_files)
    assert [name for name in nights_files if nights_files[name] != backfill_files[name]] == []


def test_rerun_of_a_past_night_changes_nothing(nights_and_backfill):
    rerun_exit_code, (after_state, after_files) = nights_and_backfill["rerun"]
    before_state, before_files = nights_and_backfill["nights"]
    assert rerun_exit_code == nights_and_backfill["exit_codes"][RERUN]
    before = {table: frame for table, frame in before_state.items() if table.split(".")[0] in PER_DATE_SCHEMAS}
    assert differences(before, after_state) == []
    assert after_files == before_files
    history = "replenishment.plan_history"
    if history in before:
        assert after_state[history]["version"].max() == before[history]["version"].max(), "no new plan version"


def test_every_night_of_the_backfill_is_planned(nights_and_backfill):
    outcomes = nights_and_backfill["backfill_outcomes"]
    assert [outcome["status"] for outcome in outcomes] == [dg.DagsterRunStatus.SUCCESS] * len(NIGHTS)
    backfill_state, _ = nights_and_backfill["backfill"]
    for night in NIGHTS:
        assert len(rows_of(backfill_state, "replenishment.plan_history", "plan_date", night)) > 0, night
