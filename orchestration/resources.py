"""Dagster resources: the DuckDB warehouse and the folders partners deliver into.

Paths are resolved when a run opens them, so one code location serves any ``CMI_*`` environment.
"""

from __future__ import annotations

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

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the warehouse for one step; the connection is closed before dbt (another process) writes."""
        path = self.resolved_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = duckdb.connect(str(path), read_only=read_only)
        try:
            yield conn
        finally:
            conn.close()


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
