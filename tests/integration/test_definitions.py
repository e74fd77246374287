"""The code location loads the way `dagster dev` and the schedule daemon load it."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from orchestration.jobs import NIGHTLY_JOB_NAME
from orchestration.runtime import settings

pytestmark = pytest.mark.integration


def test_dagster_validates_the_workspace():
    dagster = Path(sys.executable).with_name("dagster")
    completed = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=settings.PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_schedule_fires_at_two_in_the_configured_zone_for_the_previous_day(monkeypatch):
    from orchestration.definitions import defs

    monkeypatch.setenv(settings.TIMEZONE_ENV, "Asia/Shanghai")
    schedule = defs().resolve_schedule_def("nightly_at_0200")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Asia/Shanghai"
    tick = datetime(2025, 7, 1, 2, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    request = schedule(dg.build_schedule_context(scheduled_execution_time=tick))
    assert request.partition_key == "2025-06-30"
    assert schedule.job_name == NIGHTLY_JOB_NAME


def test_the_nightly_job_selects_the_whole_graph():
    from orchestration.definitions import defs

    definitions = defs()
    job = definitions.resolve_job_def(NIGHTLY_JOB_NAME)
    in_job = set(job.asset_layer.asset_graph.get_all_asset_keys())
    assert in_job == set(definitions.resolve_asset_graph().get_all_asset_keys())
    assert {dg.AssetKey(["raw", "sales"]), dg.AssetKey(["replenishment", "replenishment_plan"])} <= in_job


def test_dbt_docs_come_after_every_step_that_writes_a_table():
    """The docs' fingerprint covers every table and column: a table first written after the docs would make a new
    warehouse's second night generate them again (and leave the first night's docs without that table)."""
    from assets.quality import QUALITY_DOCS_KEY
    from assets.warehouse import DBT_DOCS_KEY
    from orchestration.definitions import defs

    graph = defs().resolve_job_def(NIGHTLY_JOB_NAME).asset_layer.asset_graph
    # By step: dbt builds every model in one step, the marts the docs name with the rest.
    steps_before = {
        graph.get(key).assets_def for key in dg.AssetSelection.assets(DBT_DOCS_KEY).upstream().resolve(graph)
    }
    # Files only, no table: the Data Docs, and the report and the snapshot, which follow the docs.
    writes_no_table = {QUALITY_DOCS_KEY} | set(dg.AssetSelection.groups("reports").resolve(graph))
    after_docs = {
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).is_executable and key not in writes_no_table and graph.get(key).assets_def not in steps_before
    }
    assert after_docs == set()


def test_landing_sensor_requests_one_ingest_run_per_new_delivery(monkeypatch, tmp_path):
    import os

    from orchestration.definitions import defs

    delivered = tmp_path / "redwood_grocers" / "sales_20250630.csv"
    delivered.parent.mkdir()
    delivered.write_text("store_nbr,upc,sales_date,units\n")
    os.utime(delivered, (1_700_000_000, 1_700_000_000))
    monkeypatch.setenv(settings.LANDING_ENV, str(tmp_path))
    definitions = defs()
    sensor = definitions.resolve_sensor_def("partner_landing")
    with dg.DagsterInstance.ephemeral() as instance:
        first = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=definitions))
        assert [request.tags["cmi/partner"] for request in first.run_requests] == ["redwood_grocers"]
        assert sensor.job_name == "ingest_feeds"
        again = sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, definitions=definitions, cursor=first.cursor)
        )
        assert again.run_requests == [] and again.skip_message == "no new partner files"
