"""Where things live. Every value is resolved when called, never at import time.

One environment variable, ``CMI_DUCKDB_PATH``, names the warehouse for both Dagster and dbt
(``dbt_project/profiles.yml`` resolves it the same way: relative paths are relative to the project root).

Every setting is an environment variable. The one config file, ``cmi.env`` in the project root (or the file named by
``CMI_CONFIG_FILE``), holds the same variables as ``NAME=value`` lines for a machine's defaults; a variable set in the
environment always wins over the file. Nothing here writes the environment: each value is read when asked for.
``cmi.env.example`` documents every setting.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

WAREHOUSE_ENV = "CMI_DUCKDB_PATH"
LANDING_ENV = "CMI_LANDING_DIR"
PARTNER_CONFIG_ENV = "CMI_PARTNER_CONFIG_DIR"
TIMEZONE_ENV = "CMI_TIMEZONE"
DATA_DIR_ENV = "CMI_DATA_DIR"
PARTITIONS_START_ENV = "CMI_PARTITIONS_START"
# The first business date a night may be run for: near where the demo's two years of partner history begin, so
# the UI counts nights that could have data rather than a thousand empty ones.
DEFAULT_PARTITIONS_START = "2024-12-01"
DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
DEFAULT_TIMEZONE = "UTC"
ALERT_WEBHOOK_ENV = "CMI_ALERT_WEBHOOK_URL"
FORECAST_COMPUTE_ENV = "CMI_FORECAST_COMPUTE"
CONFIG_FILE_ENV = "CMI_CONFIG_FILE"
DEFAULT_CONFIG_FILE = "cmi.env"

# Every setting the config file may hold, with its default ("" = unset) and whether it is a secret.
SETTINGS: dict[str, tuple[str, bool]] = {
    WAREHOUSE_ENV: (DEFAULT_WAREHOUSE, False),
    LANDING_ENV: ("data/landing", False),
    PARTNER_CONFIG_ENV: ("data/partners", False),
    DATA_DIR_ENV: ("data", False),
    TIMEZONE_ENV: (DEFAULT_TIMEZONE, False),
    PARTITIONS_START_ENV: (DEFAULT_PARTITIONS_START, False),
    ALERT_WEBHOOK_ENV: ("", True),
    FORECAST_COMPUTE_ENV: ("local", False),
}


class ConfigFileError(ValueError):
    """The config file has a line that is not ``NAME=value`` for a known setting."""

    def __init__(self, path: Path, line: int, reason: str):
        super().__init__(f"{path}:{line}: {reason}")


def config_file() -> Path:
    """The config file: ``$CMI_CONFIG_FILE`` or ``cmi.env`` in the project root (it need not exist)."""
    return _project_path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))


def read_config_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines (``#`` comments, blank lines, optional quotes, optional ``export``) of known settings."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, equals, value = line.removeprefix("export ").partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name:
            raise ConfigFileError(path, number, "expected NAME=value")
        if name not in SETTINGS:
            raise ConfigFileError(path, number, f"unknown setting {name} (known: {', '.join(SETTINGS)})")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


def settings_from_file() -> dict[str, str]:
    """The config file's settings that the environment does not set: what the file contributes to this process."""
    return {name: value for name, value in read_config_file(config_file()).items() if name not in os.environ}


def child_environment(overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a process this one starts (`dagster dev`): ours, the config file's settings that the
    environment does not set, then ``overrides``. This process's own environment is never written."""
    return {**os.environ, **settings_from_file(), **(overrides or {})}


def redact(name: str, value: str) -> str:
    """A setting as it may appear in output: secrets show only that they are set (and a URL's host)."""
    if not value or not SETTINGS.get(name, ("", False))[1]:
        return value
    host = value.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1] if "://" in value else ""
    return f"<secret set{' for ' + host if host else ''}>"


def describe() -> list[tuple[str, str, str]]:
    """(setting, value as it may be shown, where it came from) for every setting: environment, file or default."""
    in_file = read_config_file(config_file())
    rows = []
    for name, (default, _secret) in SETTINGS.items():
        if name in os.environ and in_file.get(name) != os.environ[name]:
            value, source = os.environ[name], "environment"
        elif name in in_file:
            value, source = in_file[name], str(config_file())
        else:
            value, source = default, "default"
        rows.append((name, redact(name, value), source))
    return rows


def alert_webhook_url() -> str | None:
    """Where alerts are posted (a secret: it usually carries a token); unset means alerts only go to the log file."""
    return _setting(ALERT_WEBHOOK_ENV) or None


def _setting(name: str) -> str:
    """The environment's value, else the config file's, else the default: read when asked, never exported."""
    return os.environ.get(name) or read_config_file(config_file()).get(name) or SETTINGS[name][0]


def _project_path(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def warehouse_path() -> Path:
    """The DuckDB file that Dagster resources and dbt both use."""
    return _project_path(_setting(WAREHOUSE_ENV))


def data_dir() -> Path:
    """Root for run artefacts (reports, exports, snapshots, Dagster home)."""
    return _project_path(_setting(DATA_DIR_ENV))


def landing_dir() -> Path:
    """Where partners drop files: ``<landing>/<partner_id>/...``; supplier master data in ``_supplier/``."""
    return _project_path(_setting(LANDING_ENV))


def partner_config_dir() -> Path:
    """One YAML file per partner describing its feed dialect (see data/partners/)."""
    return _project_path(_setting(PARTNER_CONFIG_ENV))


def forecast_compute() -> str:
    """Where the forecast's per-series work runs: `local` (worker processes on this machine), `local-cluster[:N]`
    (a Dask cluster of N workers started for the run) or a Dask scheduler's address (`tcp://host:8786`)."""
    return _setting(FORECAST_COMPUTE_ENV)


def partitions_start() -> str:
    """The first business date (YYYY-MM-DD) a night may be run or backfilled for: where partner history starts."""
    return _setting(PARTITIONS_START_ENV)


def schedule_timezone() -> str:
    """IANA time zone in which the nightly schedule fires at 02:00."""
    return _setting(TIMEZONE_ENV)
