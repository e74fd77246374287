"""Where the forecast runs: the three compute targets, and a 2-worker Dask cluster on loopback giving the same
forecasts as this process."""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd
import psutil
import pytest

from forecasts.forecasting.engine import forecast_many
from orchestration.runtime.resources import (
    LOCAL_CLUSTER,
    LOCAL_POOL,
    SCHEDULER,
    ComputeTarget,
    ForecastCompute,
    parse_compute_target,
)
from orchestration.runtime.transient import is_transient


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("local", ComputeTarget(LOCAL_POOL)),
        ("", ComputeTarget(LOCAL_POOL)),
        ("local-cluster", ComputeTarget(LOCAL_CLUSTER, workers=2)),
        ("local-cluster:3", ComputeTarget(LOCAL_CLUSTER, workers=3)),
        ("tcp://10.1.2.3:8786", ComputeTarget(SCHEDULER, address="tcp://10.1.2.3:8786")),
        ("scheduler.internal:8786", ComputeTarget(SCHEDULER, address="tcp://scheduler.internal:8786")),
        ("tls://dask.example.com:8786", ComputeTarget(SCHEDULER, address="tls://dask.example.com:8786")),
    ],
)
def test_compute_targets_are_read_from_one_setting(text, target):
    assert parse_compute_target(text) == target


@pytest.mark.parametrize("text", ["local-cluster:0", "local-cluster:two", "dask", "http://host", "tcp://host"])
def test_a_target_that_is_none_of_the_three_is_refused(text):
    with pytest.raises(ValueError, match="local"):
        parse_compute_target(text)


def test_the_setting_decides_when_the_resource_names_no_target(monkeypatch):
    monkeypatch.setenv("CMI_FORECAST_COMPUTE", "local-cluster:4")
    assert ForecastCompute().resolved_target() == ComputeTarget(LOCAL_CLUSTER, workers=4)
    assert ForecastCompute(target="local").resolved_target() == ComputeTarget(LOCAL_POOL)


def test_the_local_pool_forecasts_in_process_when_workers_would_not_pay():
    with ForecastCompute(target="local").executor(useful_workers=1) as executor:
        assert executor is None


def short_series(n: int = 20, days: int = 70) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    dates = pd.date_range("2026-01-01", periods=days, freq="D")
    frames = []
    for index in range(n):
        mean = [8.0, 0.2, 3.0, 15.0][index % 4]
        frames.append(pd.DataFrame({"series_id": f"s{index:02d}", "date": dates, "qty": rng.poisson(mean, days)}))
    return pd.concat(frames, ignore_index=True)


def _listening_addresses() -> set[str]:
    """Addresses on which this process or its children listen (the scheduler runs in this process)."""
    pids = {psutil.Process().pid} | {child.pid for child in psutil.Process().children(recursive=True)}
    return {
        connection.laddr.ip
        for connection in psutil.net_connections(kind="inet")
        if connection.status == psutil.CONN_LISTEN and connection.pid in pids
    }


def test_a_two_worker_local_cluster_on_loopback_gives_the_same_forecasts():
    frame = short_series()
    local = forecast_many(frame, horizon=14, chunk_size=3)
    # Every chunk of 3 series (210 rows) goes to the workers as a Parquet file.
    compute = ForecastCompute(target="local-cluster:2", spill_rows=100)
    with compute.executor(useful_workers=1) as executor:
        assert executor.workers == 2
        assert len(executor.client.scheduler_info()["workers"]) == 2
        listening = _listening_addresses()
        on_cluster = forecast_many(frame, horizon=14, chunk_size=3, executor=executor)
        assert not list(executor.spill_dir.glob("*.parquet"))
    assert listening and listening <= {"127.0.0.1"}
    pd.testing.assert_frame_equal(on_cluster, local, check_exact=True)


def test_an_unreachable_scheduler_is_a_transient_failure():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    compute = ForecastCompute(target=f"tcp://127.0.0.1:{port}", connect_timeout_seconds=1)
    with pytest.raises(OSError) as raised, compute.executor(useful_workers=1):
        pass
    assert is_transient(raised.value)
