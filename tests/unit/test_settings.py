import json
import os
import re
from pathlib import Path

import pytest
import yaml

from assets.warehouse import dbt_build_args, dbt_environment, dbt_night_environment
from orchestration.runtime import settings


def test_warehouse_path_defaults_under_the_project(monkeypatch):
    monkeypatch.delenv(settings.WAREHOUSE_ENV, raising=False)
    assert settings.warehouse_path() == settings.PROJECT_ROOT / "data" / "warehouse.duckdb"


def test_relative_warehouse_path_is_relative_to_the_project_root(monkeypatch):
    monkeypatch.setenv(settings.WAREHOUSE_ENV, "elsewhere/wh.duckdb")
    assert settings.warehouse_path() == settings.PROJECT_ROOT / "elsewhere" / "wh.duckdb"


def test_absolute_warehouse_path_is_kept(monkeypatch, tmp_path):
    monkeypatch.setenv(settings.WAREHOUSE_ENV, str(tmp_path / "w.duckdb"))
    assert settings.warehouse_path() == tmp_path / "w.duckdb"


def test_settings_are_read_when_called_not_at_import(monkeypatch):
    monkeypatch.setenv(settings.TIMEZONE_ENV, "Europe/Berlin")
    assert settings.schedule_timezone() == "Europe/Berlin"
    monkeypatch.setenv(settings.TIMEZONE_ENV, "Asia/Shanghai")
    assert settings.schedule_timezone() == "Asia/Shanghai"


def test_dbt_build_gets_the_warehouse_as_its_only_var_and_runs_one_thread():
    args = dbt_build_args(Path("/srv/cmi/night.duckdb"))
    assert args[0] == "build"
    # The vars stay the same from night to night, so dbt keeps its parse of the project between nights.
    assert json.loads(args[args.index("--vars") + 1]) == {"warehouse_path": "/srv/cmi/night.duckdb"}
    assert args[args.index("--exclude-resource-type") + 1] == "unit_test", "unit tests run with make test, not nightly"
    assert args[args.index("--threads") + 1] == "1"


def test_dbt_s_duckdb_has_a_memory_limit_under_the_night_s_bound():
    """Without one DuckDB takes up to 80 % of the machine's memory during the build; with it, it spills to disk."""
    profile = yaml.safe_load((settings.DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))
    limit = profile["cmi"]["outputs"]["dev"]["settings"]["memory_limit"]
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(MB|GB|MiB|GiB)", limit).groups()
    gib = float(number) / (1 if unit.startswith("G") else 1024)
    assert 0.5 <= gib <= 3, limit


def test_the_business_date_and_its_knowledge_cut_reach_dbt_in_its_environment():
    assert dbt_night_environment("2025-06-30") == {
        "CMI_DBT_AS_OF_DATE": "2025-06-30",
        "CMI_DBT_KNOWN_BEFORE": "2025-07-02 00:00:00",
    }


def test_the_night_environment_is_set_only_while_dbt_starts(monkeypatch):
    monkeypatch.setenv("CMI_DBT_AS_OF_DATE", "an earlier value")
    monkeypatch.delenv("CMI_DBT_KNOWN_BEFORE", raising=False)
    with dbt_environment(dbt_night_environment("2025-06-30")):
        assert os.environ["CMI_DBT_AS_OF_DATE"] == "2025-06-30"
        assert os.environ["CMI_DBT_KNOWN_BEFORE"] == "2025-07-02 00:00:00"
    assert os.environ["CMI_DBT_AS_OF_DATE"] == "an earlier value"
    assert "CMI_DBT_KNOWN_BEFORE" not in os.environ


def test_the_night_environment_is_restored_when_starting_dbt_fails(monkeypatch):
    monkeypatch.setenv("CMI_DBT_AS_OF_DATE", "an earlier value")
    monkeypatch.delenv("CMI_DBT_KNOWN_BEFORE", raising=False)
    with pytest.raises(RuntimeError, match="dbt did not start"), dbt_environment(dbt_night_environment("2025-06-30")):
        raise RuntimeError("dbt did not start")
    assert os.environ["CMI_DBT_AS_OF_DATE"] == "an earlier value"
    assert "CMI_DBT_KNOWN_BEFORE" not in os.environ


def _config(tmp_path, monkeypatch, text: str):
    path = tmp_path / "cmi.env"
    path.write_text(text)
    monkeypatch.setenv(settings.CONFIG_FILE_ENV, str(path))
    return path


def test_the_config_file_sets_what_the_environment_does_not(monkeypatch, tmp_path):
    _config(
        tmp_path,
        monkeypatch,
        "# machine defaults\n\nexport CMI_TIMEZONE=Europe/Berlin\nCMI_DUCKDB_PATH='warehouse/night.duckdb'\n",
    )
    monkeypatch.delenv(settings.TIMEZONE_ENV, raising=False)
    monkeypatch.setenv(settings.WAREHOUSE_ENV, str(tmp_path / "from-env.duckdb"))
    from_file = settings.settings_from_file()
    assert from_file == {settings.TIMEZONE_ENV: "Europe/Berlin"}
    assert settings.schedule_timezone() == "Europe/Berlin"
    assert settings.warehouse_path() == tmp_path / "from-env.duckdb"
    assert settings.TIMEZONE_ENV not in os.environ, "reading the config file must not export it"


def test_a_bad_config_line_names_the_file_line_and_reason(monkeypatch, tmp_path):
    path = _config(tmp_path, monkeypatch, "CMI_TIMEZONE=UTC\nCMI_WAREHOUSE=x.duckdb\n")
    with pytest.raises(settings.ConfigFileError, match=rf"{path}:2: unknown setting CMI_WAREHOUSE"):
        settings.settings_from_file()
    _config(tmp_path, monkeypatch, "just words\n")
    with pytest.raises(settings.ConfigFileError, match=r"cmi.env:1: expected NAME=value"):
        settings.settings_from_file()


def test_a_missing_config_file_changes_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv(settings.CONFIG_FILE_ENV, str(tmp_path / "absent.env"))
    assert settings.settings_from_file() == {}


def test_secrets_are_described_without_their_value(monkeypatch, tmp_path):
    secret = "https://hooks.example.com/services/T000/B000/s3cr3t-token"
    _config(tmp_path, monkeypatch, f"CMI_ALERT_WEBHOOK_URL={secret}\n")
    monkeypatch.delenv(settings.ALERT_WEBHOOK_ENV, raising=False)
    monkeypatch.setenv(settings.TIMEZONE_ENV, "Asia/Shanghai")
    rows = {name: (value, source) for name, value, source in settings.describe()}
    assert rows[settings.ALERT_WEBHOOK_ENV] == ("<secret set for hooks.example.com>", str(tmp_path / "cmi.env"))
    assert rows[settings.TIMEZONE_ENV] == ("Asia/Shanghai", "environment")
    assert rows[settings.LANDING_ENV][1] == "default" or rows[settings.LANDING_ENV][1] == "environment"
    assert all(secret not in value and "s3cr3t" not in value for value, _ in rows.values())


def test_cmi_config_prints_settings_and_never_the_secret(monkeypatch, tmp_path, capsys):
    from orchestration.cli import main

    _config(tmp_path, monkeypatch, "CMI_ALERT_WEBHOOK_URL=https://user:pw@hooks.example.com/x/s3cr3t\n")
    monkeypatch.delenv(settings.ALERT_WEBHOOK_ENV, raising=False)
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "CMI_DUCKDB_PATH" in out and "<secret set for hooks.example.com>" in out
    assert "s3cr3t" not in out and "pw@" not in out
