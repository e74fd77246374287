"""Dagster resources: the DuckDB warehouse, the folders partners deliver into, where run artefacts go, and where the
forecast's per-series work runs.

Paths are resolved when a run opens them, so one code location serves any ``CMI_*`` environment.
"""

from __future__ import annotations

import logging
import multiprocessing
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from orchestration.runtime import settings
from orchestration.runtime.retries import NIGHTLY_BACKOFF, retry_on_transient
from orchestration.runtime.transient import Backoff, is_transient

WAREHOUSE_MEMORY_LIMIT = "2GB"


class Warehouse(dg.ConfigurableResource):
    """The embedded DuckDB warehouse shared by ingestion, dbt, forecasts and plans."""

    path: str | None = None

    def resolved_path(self) -> Path:
        return Path(self.path) if self.path else settings.warehouse_path()

    # Another process (a dbt run, an analyst with a write connection) may hold DuckDB's file lock for a while.
    lock_retries: int = 6
    lock_backoff_seconds: float = 1.0
    # A transient failure while a step works on the warehouse or the files around it (see orchestration.runtime.retries)
    # re-runs the step after an exponential, jittered wait; any other failure fails it at once.
    step_retries: int = NIGHTLY_BACKOFF.max_retries
    step_retry_base_seconds: float = NIGHTLY_BACKOFF.base_seconds
    # DuckDB's buffer on a step's connection: past it DuckDB evicts cached pages and spills to `<warehouse>.tmp`
    # instead of growing toward its default of 80 % of the machine, so a step's memory is its own frames plus this,
    # whatever the warehouse holds (dbt's profile sets the same for the build; ingestion sets a smaller one).
    memory_limit: str = WAREHOUSE_MEMORY_LIMIT

    def step_backoff(self) -> Backoff:
        return Backoff(max_retries=self.step_retries, base_seconds=self.step_retry_base_seconds)

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the warehouse for one step; the connection is closed before dbt (another process) writes.

        A transient failure inside the block (lock, I/O error, time-out) asks Dagster to retry the step.
        """
        path = self.resolved_path()
        with retry_on_transient(self.step_backoff()):
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = connect_with_backoff(
                path, read_only, self.lock_retries, self.lock_backoff_seconds, jitter=NIGHTLY_BACKOFF.jitter
            )
            try:
                conn.execute(f"set memory_limit = '{self.memory_limit}'")
                yield conn
            finally:
                conn.close()


def connect_with_backoff(
    path: Path,
    read_only: bool,
    retries: int,
    backoff_seconds: float,
    sleep=time.sleep,
    jitter: float = 0.0,
) -> duckdb.DuckDBPyConnection:
    """Retry a transient error (a lock conflict, an I/O error) with exponential back-off (1, 2, 4 … s, ± ``jitter``).

    Any other error, such as a file that is not a DuckDB database, is raised at once.
    """
    backoff = Backoff(max_retries=retries, base_seconds=backoff_seconds, jitter=jitter)
    for attempt in range(retries + 1):
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as error:
            if not is_transient(error) or attempt == retries:
                raise
            sleep(backoff.delay_before(attempt + 1))
    raise AssertionError("unreachable")


class FeedFolders(dg.ConfigurableResource):
    """Where partner files land and how each partner's files are read."""

    landing_dir: str | None = None
    partner_config_dir: str | None = None

    def landing(self) -> Path:
        return Path(self.landing_dir) if self.landing_dir else settings.landing_dir()

    def partner_configs(self) -> Path:
        return Path(self.partner_config_dir) if self.partner_config_dir else settings.partner_config_dir()


class Artefacts(dg.ConfigurableResource):
    """Where a run writes what people open: reports, exports, docs, quality results, the snapshot, quarantine."""

    data_dir: str | None = None

    def root(self) -> Path:
        return Path(self.data_dir) if self.data_dir else settings.data_dir()

    def quality_results(self, business_date: date) -> Path:
        """GX's own results of a night, one JSON file per check: what the night's Data Docs are rendered from."""
        return self.root() / "quality_results" / business_date.isoformat()

    def quality_docs(self, business_date: date) -> Path:
        """One Data Docs site per business date: a night's page set stays as it was when later nights run."""
        return self.root() / "quality_docs" / business_date.isoformat()

    def dbt_docs(self) -> Path:
        """One dbt docs site, of the warehouse as the last night built it."""
        return self.root() / "dbt_docs"

    def report(self, business_date: date) -> Path:
        return self.root() / "reports" / business_date.isoformat()

    def exports(self) -> Path:
        return self.root() / "exports"

    def snapshot(self) -> Path:
        return self.root() / "snapshots" / "warehouse.duckdb"

    def quarantine(self) -> Path:
        return self.root() / "quarantine"

    def outbox(self) -> Path:
        """Acknowledgments (997/999/TA1, CONTRL) going back to partners: ``outbox/<partner_id>/``."""
        return self.root() / "outbox"

    def archive(self) -> Path:
        """Every delivered file, content-addressed and read-only (``assets/feeds/loading/archive.py``)."""
        return self.root() / "archive"


LOCAL_POOL = "local"
LOCAL_CLUSTER = "local-cluster"
SCHEDULER = "scheduler"
DEFAULT_LOCAL_CLUSTER_WORKERS = 2


@dataclass(frozen=True)
class ComputeTarget:
    """Where the forecast runs: this machine's process pool, a Dask cluster started for the run, or a scheduler."""

    mode: str
    workers: int | None = None
    address: str | None = None


def parse_compute_target(text: str) -> ComputeTarget:
    """`local`, `local-cluster`, `local-cluster:N` or a scheduler address (`tcp://host:8786`, `tls://...`,
    `host:port`); anything else is refused with the forms it could have been."""
    value = text.strip()
    if value in ("", LOCAL_POOL):
        return ComputeTarget(LOCAL_POOL)
    if value == LOCAL_CLUSTER or value.startswith(LOCAL_CLUSTER + ":"):
        count = value.removeprefix(LOCAL_CLUSTER).removeprefix(":") or str(DEFAULT_LOCAL_CLUSTER_WORKERS)
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"local-cluster takes a number of workers of at least 1, got {count!r}")
        return ComputeTarget(LOCAL_CLUSTER, workers=int(count))
    scheme, _, rest = value.rpartition("://")
    host, _, port = rest.rpartition(":")
    if scheme in ("", "tcp", "tls", "ucx") and host and port.isdigit():
        return ComputeTarget(SCHEDULER, address=value if scheme else f"tcp://{value}")
    raise ValueError(
        f"forecast compute must be 'local', 'local-cluster[:N]' or a Dask scheduler address such as "
        f"tcp://host:8786, got {text!r}"
    )


@dataclass
class PoolChunks:
    """A spawn-started process pool seen as the engine's chunk executor (``submit`` and ``workers``)."""

    pool: ProcessPoolExecutor
    workers: int
    spill_dir: Path | None = None
    spill_rows: int = 0

    def submit(self, function: Callable[..., Any], /, *args: Any):
        return self.pool.submit(function, *args)


@dataclass
class DaskChunks:
    """A ``dask.distributed`` client seen as the engine's chunk executor. Every chunk is a new task (not cached by
    its arguments' hash: hashing a chunk costs more than forecasting it)."""

    client: Any
    workers: int
    spill_dir: Path | None = None
    spill_rows: int = 0

    def submit(self, function: Callable[..., Any], /, *args: Any):
        return self.client.submit(function, *args, pure=False)


def _distributed():
    try:
        import distributed
    except ImportError as error:  # an optional extra: say how to get it rather than fail on an import
        raise RuntimeError(
            "forecast compute names a Dask cluster but dask.distributed is not installed: "
            "install the project with its `dask` extra (uv sync --extra dask, or pip install '.[dask]')"
        ) from error
    return distributed


class ForecastCompute(dg.ConfigurableResource):
    """Where the forecast's per-series work runs; the run process stays the only reader and writer of the warehouse.

    ``target`` (default: the ``CMI_FORECAST_COMPUTE`` setting, itself ``local`` by default) is ``local`` (worker
    processes on this machine, started only when there are enough series to pay for them), ``local-cluster:N``
    (a Dask cluster of N single-threaded worker processes on 127.0.0.1, no dashboard, for the run) or the address
    of an existing Dask scheduler. Chunks of ``spill_rows`` rows or more go to workers as Parquet files in a
    folder they can read: a temporary folder for a local cluster, ``spill_dir`` (a shared mount) for a remote one;
    without it they travel through the scheduler.
    """

    target: str | None = None
    processes: int = 4
    spill_dir: str | None = None
    spill_rows: int = 100_000
    connect_timeout_seconds: float = 30.0

    def resolved_target(self) -> ComputeTarget:
        return parse_compute_target(self.target if self.target is not None else settings.forecast_compute())

    @contextmanager
    def executor(self, useful_workers: int) -> Iterator[PoolChunks | DaskChunks | None]:
        """The chunk executor for one run, closed when the block ends; None means: forecast in this process.

        ``useful_workers`` is how many local processes the night's series pay for (a cluster is used as configured).
        A scheduler or cluster that cannot be reached, or one lost during the block, raises an error that
        ``transient.is_transient`` calls transient, so the step is retried.
        """
        target = self.resolved_target()
        if target.mode == LOCAL_POOL:
            workers = max(1, min(useful_workers, self.processes))
            if workers == 1:
                yield None
                return
            spawn = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
                yield PoolChunks(pool, workers)
            return
        distributed = _distributed()
        if target.mode == LOCAL_CLUSTER:
            with (
                tempfile.TemporaryDirectory(prefix="cmi-forecast-") as scratch,
                distributed.LocalCluster(
                    n_workers=target.workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    worker_dashboard_address=None,
                    local_directory=scratch,
                    silence_logs=logging.ERROR,
                ) as cluster,
                distributed.Client(cluster, timeout=self.connect_timeout_seconds) as client,
            ):
                spill = Path(scratch) / "chunks"
                yield DaskChunks(client, target.workers, spill, self.spill_rows)
            return
        with distributed.Client(target.address, timeout=self.connect_timeout_seconds) as client:
            workers = max(1, len(client.scheduler_info().get("workers", {})))
            spill = Path(self.spill_dir) if self.spill_dir else None
            yield DaskChunks(client, workers, spill, self.spill_rows)
