"""A Dagster backfill of past nights writes the tables `cmi run --as-of` writes night by night; a rerun changes nothing.

Two warehouses on one small demo landing (two partners, the shortest history the demo writes). In the first,
`cmi run --as-of` runs the nights one after another, as an engineer catching up would. In the second, `dagster job
backfill` records a backfill of the `nightly` job over the same dates in a Dagster instance configured as `cmi`
configures its own (one run at a time: DuckDB has a single writer), and `dagster-daemon` launches its queued runs.
Both run side by side; their results are compared per date (plans, forecasts, quality results) and as a whole:
every row of every table and view after the last night (less the columns naming the run), and every file the
nights handed on. The first night, run again after the second, changes nothing: its own rows and files stay as they
were, and dbt's schemas are again exactly what that night built the first time, though the warehouse now holds the
later night's files. A rerun of the latest night is a rerun after no later night, so this one proves it too (the
nightly end-to-end module no longer runs one of its own).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from assets.feeds.demo import generate_demo
from orchestration.cli import DAGSTER_YAML, warehouse_dagster_home
from orchestration.jobs import NIGHTLY_JOB_NAME
from orchestration.runtime import settings
from tests.fixtures import handed_on_files, snapshot_differences, snapshot_table, snapshot_warehouse

pytestmark = pytest.mark.integration

# Two nights: the first is replayed after the second has run, and sees none of the files that came after it.
NIGHTS = [date(2025, 6, 29), date(2025, 6, 30)]
RERUN = NIGHTS[0]
# Two partners of different feed families (CSV with EDIFACT; CSV with X12) and the shortest history the demo
# writes: every step of the night runs, on a fraction of the demo's series.
PARTNERS = ("hansa_handel", "redwood_grocers")
HISTORY_DAYS = 70
# Tables the night's Python steps write per business date; dbt's schemas hold the state of the latest night run.
PER_DATE_SCHEMAS = ("raw", "quality", "forecasts", "replenishment")
# Limits against a hang, not targets: on a machine shared with other work one small night has taken over 15 minutes.
NIGHT_TIMEOUT_SECONDS = 1800
BACKFILL_TIMEOUT_SECONDS = 2 * NIGHT_TIMEOUT_SECONDS
BIN = Path(sys.executable).parent


def subprocess_env(root: Path, dagster_home: Path | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "DAGSTER_HOME"}
    env[settings.WAREHOUSE_ENV] = str(root / "warehouse.duckdb")
    env[settings.LANDING_ENV] = str(root.parent / "landing")
    env[settings.PARTNER_CONFIG_ENV] = str(root.parent / "partners")
    env[settings.DATA_DIR_ENV] = str(root)
    if dagster_home is not None:
        env["DAGSTER_HOME"] = str(dagster_home)
    return env


def cmi_run(root: Path, night: date) -> int:
    """`cmi run --as-of` as an engineer types it; `cmi` writes and uses the warehouse's Dagster home under the data
    dir."""
    return subprocess.run(
        [str(BIN / "cmi"), "run", "--as-of", night.isoformat()],
        env=subprocess_env(root, dagster_home=None),
        cwd=settings.PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=NIGHT_TIMEOUT_SECONDS,
    ).returncode


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
    partners = root / "partners"
    partners.mkdir()
    for partner in PARTNERS:
        shutil.copy(settings.partner_config_dir() / f"{partner}.yaml", partners)
    generate_demo(root / "landing", partners, seed=11, days=HISTORY_DAYS, end_date=NIGHTS[-1], scale="small")
    nights, backfill, snapshots = root / "nights", root / "backfill", root / "snapshots"
    backfill.mkdir()
    processes = start_backfill(backfill)
    try:
        exit_codes = {}
        for night in NIGHTS:
            exit_codes[night] = cmi_run(nights, night)
            if night == RERUN:
                first_run = snapshot_warehouse(nights / "warehouse.duckdb", snapshots / "first_run")
        before_rerun = snapshot_warehouse(nights / "warehouse.duckdb", snapshots / "nights"), handed_on_files(nights)
        rerun_exit_code = cmi_run(nights, RERUN)
        after_rerun = snapshot_warehouse(nights / "warehouse.duckdb", snapshots / "rerun"), handed_on_files(nights)
        backfill_outcomes = wait_for_backfill(backfill, *processes)
    finally:
        for process in processes:
            stop(process)
    return {
        "exit_codes": exit_codes,
        "nights": before_rerun,
        "first_run": first_run,
        "rerun": (rerun_exit_code, after_rerun),
        # `cmi` keeps each warehouse's runs in that warehouse's own Dagster home under the data dir.
        "night_outcomes": night_outcomes(warehouse_dagster_home(nights, nights / "warehouse.duckdb")),
        "backfill_outcomes": backfill_outcomes,
        "backfill": (
            snapshot_warehouse(backfill / "warehouse.duckdb", snapshots / "backfill"),
            handed_on_files(backfill),
        ),
    }


def on_night(column: str, night: date) -> str:
    return f"cast({column} as date) = date '{night.isoformat()}'"


def schemas_in(snapshot: Path) -> set[str]:
    return {path.name.split(".")[0] for path in snapshot.glob("*.parquet")}


def rows_on(snapshot: Path, table: str, column: str, night: date) -> int:
    with duckdb.connect() as conn:
        relation = snapshot_table(snapshot, table)
        return conn.execute(f"select count(*) from {relation} where {on_night(column, night)}").fetchone()[0]


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
    nights_snapshot, _ = nights_and_backfill["nights"]
    backfill_snapshot, _ = nights_and_backfill["backfill"]
    assert (nights_snapshot / f"{table}.parquet").exists() and (backfill_snapshot / f"{table}.parquet").exists()
    where = {table: on_night(date_column, night)}
    assert snapshot_differences(nights_snapshot, backfill_snapshot, tables=[table], where=where) == []


def test_every_table_and_handed_on_file_is_the_same_after_the_last_night(nights_and_backfill):
    nights_snapshot, nights_files = nights_and_backfill["nights"]
    backfill_snapshot, backfill_files = nights_and_backfill["backfill"]
    assert snapshot_differences(nights_snapshot, backfill_snapshot) == []
    assert sorted(nights_files) == sorted(backfill_files)
    assert [name for name in nights_files if nights_files[name] != backfill_files[name]] == []


def test_rerun_of_a_past_night_changes_nothing(nights_and_backfill):
    rerun_exit_code, (after_snapshot, after_files) = nights_and_backfill["rerun"]
    before_snapshot, before_files = nights_and_backfill["nights"]
    assert rerun_exit_code == nights_and_backfill["exit_codes"][RERUN]
    assert snapshot_differences(before_snapshot, after_snapshot, schemas=PER_DATE_SCHEMAS) == []
    assert after_files == before_files
    history = "replenishment.plan_history"
    with duckdb.connect() as conn:
        versions = [
            conn.execute(f"select max(version) from {snapshot_table(snapshot, history)}").fetchone()[0]
            for snapshot in (before_snapshot, after_snapshot)
        ]
    assert versions[0] == versions[1], "no new plan version"


def test_a_past_night_run_again_rebuilds_what_it_built_the_first_time(nights_and_backfill):
    """dbt's schemas hold the state of the night last run: after the rerun, that of the first night again, row for
    row, though the later night's files are now in the warehouse (a past night sees only what it knew)."""
    _, (after_snapshot, _) = nights_and_backfill["rerun"]
    before_snapshot, _ = nights_and_backfill["nights"]
    first_snapshot = nights_and_backfill["first_run"]
    built_by_dbt = schemas_in(first_snapshot) - set(PER_DATE_SCHEMAS)
    assert built_by_dbt >= {"staging", "intermediate", "marts"}
    assert schemas_in(after_snapshot) == schemas_in(first_snapshot)
    # The later night did move dbt's schemas on (its sales reach the marts), so the equality below is the rerun's work.
    moved_on = snapshot_differences(first_snapshot, before_snapshot, tables=["marts.fct_sales_daily"])
    assert moved_on != [] and "only on one side" not in moved_on[0]
    assert snapshot_differences(first_snapshot, after_snapshot, schemas=built_by_dbt) == []


def test_every_night_of_the_backfill_is_planned(nights_and_backfill):
    outcomes = nights_and_backfill["backfill_outcomes"]
    assert [outcome["status"] for outcome in outcomes] == [dg.DagsterRunStatus.SUCCESS] * len(NIGHTS)
    backfill_snapshot, _ = nights_and_backfill["backfill"]
    for night in NIGHTS:
        assert rows_on(backfill_snapshot, "replenishment.plan_history", "plan_date", night) > 0, night
