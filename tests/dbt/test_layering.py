"""The dbt project's shape, read from a parsed manifest (no warehouse, no build): layers run one way, every model
has its own YAML with a grain and a key test, and the exposures reach the plan through the Python-written sources.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")

# Python-written tables and the Dagster asset that writes each (assets/forecasts.py, replenishment.py, quality.py).
PYTHON_SOURCES = {
    "source.cmi.forecasts.forecast_history": ["forecasts", "demand_forecast"],
    "source.cmi.forecasts.demand_forecast": ["forecasts", "demand_forecast"],
    "source.cmi.forecasts.forecast_accuracy": ["forecasts", "demand_forecast"],
    "source.cmi.forecasts.forecast_value_added": ["forecasts", "demand_forecast"],
    "source.cmi.replenishment.replenishment_plan": ["replenishment", "replenishment_plan"],
    "source.cmi.replenishment.plan_history": ["replenishment", "replenishment_plan"],
    "source.cmi.replenishment.exceptions": ["replenishment", "exceptions"],
    "source.cmi.quality.check_results": ["quality", "partner_data_gate"],
    "source.cmi.quality.partner_data_gate": ["quality", "partner_data_gate"],
}
KEY_TESTS = {"unique", "unique_combination_of_columns"}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    scratch = tmp_path_factory.mktemp("dbt-parse")
    env = {
        **os.environ,
        "CMI_DUCKDB_PATH": str(scratch / "warehouse.duckdb"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    result = subprocess.run(
        [
            str(DBT),
            "parse",
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(scratch / "target"),
            "--log-path",
            str(scratch / "logs"),
        ],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return json.loads((scratch / "target" / "manifest.json").read_text())


def _models(manifest: dict) -> dict[str, dict]:
    return {key: node for key, node in manifest["nodes"].items() if node["resource_type"] == "model"}


def _layer(node: dict) -> str:
    return node["fqn"][1]


def test_no_intermediate_or_staging_model_reads_a_mart(manifest):
    models = _models(manifest)
    upward = [
        (node["name"], models[parent]["name"])
        for node in models.values()
        if _layer(node) in ("staging", "intermediate")
        for parent in node["depends_on"]["nodes"]
        if parent in models and _layer(models[parent]) == "marts"
    ]
    assert upward == []


def test_no_staging_model_reads_an_intermediate_model(manifest):
    models = _models(manifest)
    upward = [
        (node["name"], models[parent]["name"])
        for node in models.values()
        if _layer(node) == "staging"
        for parent in node["depends_on"]["nodes"]
        if parent in models and _layer(models[parent]) == "intermediate"
    ]
    assert upward == []


def test_fct_sales_daily_is_built_from_the_intermediate_spine(manifest):
    sales = manifest["nodes"]["model.cmi.fct_sales_daily"]
    assert sales["depends_on"]["nodes"] == ["model.cmi.int_sales_daily"]
    spine = manifest["nodes"]["model.cmi.int_sales_daily"]
    assert spine["config"]["materialized"] == "incremental"


def test_the_shipment_matchers_are_intermediate_models_the_mart_reads(manifest):
    parents = set(manifest["nodes"]["model.cmi.fct_shipments"]["depends_on"]["nodes"])
    assert {"model.cmi.int_shipment_arrivals_counted", "model.cmi.int_shipment_arrivals_reported"} <= parents
    assert "model.cmi.int_stock_changes_explained" not in parents


def test_every_model_resolving_partner_references_does_it_through_the_one_macro(manifest):
    """Items and stores are resolved alike everywhere: a model that joins partner_item_ref writes no join of its own."""
    resolvers = {
        node["name"]
        for node in _models(manifest).values()
        if node["name"].startswith("int_")
        and node["name"].endswith("_resolved")
        and "model.cmi.int_partner_items_known" in node["depends_on"]["nodes"]
    }
    assert "int_promotions_resolved" in resolvers
    assert {
        name
        for name in resolvers
        if "macro.cmi.resolve_partner_refs" not in manifest["nodes"][f"model.cmi.{name}"]["depends_on"]["macros"]
    } == set()


def test_every_model_has_its_own_yaml_beside_it_with_a_grain_and_a_key_test(manifest):
    models = _models(manifest)
    keyed = {
        node["attached_node"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test" and node.get("test_metadata", {}).get("name") in KEY_TESTS
    }
    for key, node in models.items():
        sql_path = Path(node["original_file_path"])
        assert node["patch_path"] == f"cmi://{sql_path.with_suffix('.yml')}", node["name"]
        assert "one row per" in node["description"].lower(), f"{node['name']}: no grain sentence"
        assert key in keyed, f"{node['name']}: no unique key test"


def test_the_multi_model_yaml_files_are_gone():
    models = DBT_PROJECT_DIR / "models"
    leftovers = [path.relative_to(models).as_posix() for path in models.rglob("_*.yml") if path.name != "_sources.yml"]
    assert leftovers == []


def test_python_written_tables_are_sources_naming_their_dagster_asset(manifest):
    for key, asset_key in PYTHON_SOURCES.items():
        source = manifest["sources"][key]
        assert source["meta"]["dagster"]["asset_key"] == asset_key, key


def test_no_model_reads_a_python_written_source(manifest):
    """Those tables are written after `dbt build`; a model reading one would close a cycle in the Dagster graph."""
    readers = [
        (node["name"], parent)
        for node in _models(manifest).values()
        for parent in node["depends_on"]["nodes"]
        if parent in PYTHON_SOURCES
    ]
    assert readers == []


def _upstream(manifest: dict, unique_id: str) -> set[str]:
    """Every node and source `unique_id` reaches through depends_on."""
    seen: set[str] = set()
    todo = [unique_id]
    while todo:
        current = todo.pop()
        node = manifest["nodes"].get(current) or manifest["exposures"].get(current) or {}
        for parent in node.get("depends_on", {}).get("nodes", []):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


@pytest.mark.parametrize(
    ("exposure", "reads"),
    [
        ("nightly_report", "source.cmi.replenishment.plan_history"),
        ("partner_exports", "source.cmi.replenishment.plan_history"),
        ("replenishment_plan_for_analysts", "source.cmi.replenishment.replenishment_plan"),
    ],
)
def test_the_exposures_reach_the_plan_and_have_owners(manifest, exposure, reads):
    node = manifest["exposures"][f"exposure.cmi.{exposure}"]
    assert node["owner"]["name"]
    assert node["description"].strip()
    assert reads in node["depends_on"]["nodes"]


def test_the_analysts_plan_exposure_reaches_back_to_the_raw_feeds(manifest):
    upstream = _upstream(manifest, "exposure.cmi.replenishment_plan_for_analysts")
    assert "source.cmi.raw.stock_snapshots" in upstream
    assert "model.cmi.replenishment_inputs" in upstream


def test_the_overview_page_explains_the_flow(manifest):
    overview = manifest["docs"]["doc.cmi.__overview__"]["block_contents"]
    for step in ("Raw feeds", "Staging", "Intermediate", "Marts", "Forecasts", "Replenishment", "Exports"):
        assert step in overview
