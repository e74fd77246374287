"""Where things live. Every value is resolved when called, never at import time.

One environment variable, ``CMI_DUCKDB_PATH``, names the warehouse for both Dagster and dbt
(``dbt_project/profiles.yml`` resolves it the same way: relative paths are relative to the project root).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

WAREHOUSE_ENV = "CMI_DUCKDB_PATH"
LANDING_ENV = "CMI_LANDING_DIR"
PARTNER_CONFIG_ENV = "CMI_PARTNER_CONFIG_DIR"
TIMEZONE_ENV = "CMI_TIMEZONE"
DATA_DIR_ENV = "CMI_DATA_DIR"

DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
DEFAULT_TIMEZONE = "UTC"


def _project_path(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def warehouse_path() -> Path:
    """The DuckDB file that Dagster resources and dbt both use."""
    return _project_path(os.environ.get(WAREHOUSE_ENV, DEFAULT_WAREHOUSE))


def data_dir() -> Path:
    """Root for run artefacts (reports, exports, snapshots, Dagster home)."""
    return _project_path(os.environ.get(DATA_DIR_ENV, "data"))


def landing_dir() -> Path:
    """Where partners drop files: ``<landing>/<partner_id>/...``; supplier master data in ``_supplier/``."""
    return _project_path(os.environ.get(LANDING_ENV, "data/landing"))


def partner_config_dir() -> Path:
    """One YAML file per partner describing its feed dialect (see data/partners/)."""
    return _project_path(os.environ.get(PARTNER_CONFIG_ENV, "data/partners"))


def schedule_timezone() -> str:
    """IANA time zone in which the nightly schedule fires at 02:00."""
    return os.environ.get(TIMEZONE_ENV, DEFAULT_TIMEZONE)
