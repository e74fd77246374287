"""Dagster resources: the DuckDB warehouse, the folders partners deliver into, and where run artefacts go.

Paths are resolved when a run opens them, so one code location serves any ``CMI_*`` environment.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.runtime import settings
from orchestration.runtime.retries import NIGHTLY_BACKOFF, retry_on_transient
from orchestration.runtime.transient import Backoff, is_transient


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
