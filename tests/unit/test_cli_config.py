"""Where `cmi` takes each path from, as `cmi config` reports it: the environment wins over the config file, which
wins over the defaults. The command runs as an engineer runs it, in a process of its own, and the settings are named
as cmi.env.example documents them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CMI = Path(sys.executable).with_name("cmi")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATHS = {
    "CMI_DUCKDB_PATH": "data/warehouse.duckdb",
    "CMI_LANDING_DIR": "data/landing",
    "CMI_PARTNER_CONFIG_DIR": "data/partners",
    "CMI_DATA_DIR": "data",
}


def cmi_config(settings: dict[str, str]) -> dict[str, tuple[str, str]]:
    """`cmi config` with no CMI_ variables in its environment but `settings`: {setting: (value, source)}."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CMI_")}
    env.update(settings)
    out = subprocess.run(
        [str(CMI), "config"], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout
    shown = {}
    for line in out.splitlines():
        name, _, rest = line.partition(" ")
        if name in DEFAULT_PATHS:
            value, _, source = rest.strip().rpartition("  ")
            shown[name] = (value, source.strip("[]"))
    return shown


def test_the_environment_wins_over_the_config_file_which_wins_over_the_defaults(tmp_path):
    config_file = tmp_path / "cmi.env"
    config_file.write_text(
        f"CMI_DUCKDB_PATH={tmp_path / 'file.duckdb'}\nCMI_LANDING_DIR={tmp_path / 'file-landing'}\n", encoding="utf-8"
    )
    shown = cmi_config({"CMI_CONFIG_FILE": str(config_file), "CMI_DUCKDB_PATH": str(tmp_path / "env.duckdb")})
    assert shown["CMI_DUCKDB_PATH"] == (str(tmp_path / "env.duckdb"), "environment")
    assert shown["CMI_LANDING_DIR"] == (str(tmp_path / "file-landing"), str(config_file))
    assert shown["CMI_PARTNER_CONFIG_DIR"] == (DEFAULT_PATHS["CMI_PARTNER_CONFIG_DIR"], "default")


def test_without_environment_or_config_file_every_path_is_its_default(tmp_path):
    shown = cmi_config({"CMI_CONFIG_FILE": str(tmp_path / "absent.env")})
    assert shown == {name: (value, "default") for name, value in DEFAULT_PATHS.items()}
