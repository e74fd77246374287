from assets.warehouse import dbt_build_args
from orchestration import settings


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


def test_dbt_build_passes_the_business_date_as_a_var():
    args = dbt_build_args("2025-06-30")
    assert args[0] == "build"
    assert args[args.index("--vars") + 1] == '{"as_of_date": "2025-06-30"}'
