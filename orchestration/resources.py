"""Dagster resources: the DuckDB warehouse and the folders partners deliver into.

Paths are resolved when a run opens them, so one code location serves any ``CMI_*`` environment.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from orchestration import settings


class Warehouse(dg.ConfigurableResource):
    """The embedded DuckDB warehouse shared by ingestion, dbt, forecasts and plans."""

    path: str | None = None

    def resolved_path(self) -> Path:
        return Path(self.path) if self.path else settings.warehouse_path()

    # Another process (a dbt run, an analyst with a write connection) may hold DuckDB's file lock for a while.
    lock_retries: int = 6
    lock_backoff_seconds: float = 1.0

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the warehouse for one step; the connection is closed before dbt (another process) writes."""
        path = self.resolved_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect_with_backoff(path, read_only, self.lock_retries, self.lock_backoff_seconds)
        try:
            yield conn
        finally:
            conn.close()


def connect_with_backoff(
    path: Path, read_only: bool, retries: int, backoff_seconds: float, sleep=time.sleep
) -> duckdb.DuckDBPyConnection:
    """Retry a lock conflict with exponential back-off (1, 2, 4 … s); any other error is raised at once."""
    for attempt in range(retries + 1):
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or attempt == retries:
                raise
            sleep(backoff_seconds * 2**attempt)
    raise AssertionError("unreachable")


class FeedFolders(dg.ConfigurableResource):
    """Where partner files land, how each partner's files are read, and where bad files are kept."""

    landing_dir: str | None = None
    partner_config_dir: str | None = None

    def landing(self) -> Path:
        return Path(self.landing_dir) if self.landing_dir else settings.landing_dir()

    def partner_configs(self) -> Path:
        return Path(self.partner_config_dir) if self.partner_config_dir else settings.partner_config_dir()

    def quarantine(self) -> Path:
        return settings.data_dir() / "quarantine"
