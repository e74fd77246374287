"""dbt docs of the warehouse: the arguments of `dbt docs generate` and the summary the docs asset reports."""

from __future__ import annotations

import json
from pathlib import Path

from assets.warehouse import dbt_build_args, dbt_docs_args, dbt_docs_summary


def test_docs_are_generated_static_with_the_build_s_vars_and_threads():
    args = dbt_docs_args(Path("/srv/cmi/warehouse.duckdb"))
    assert args[:3] == ["docs", "generate", "--static"]
    # The build's vars, so docs generated after the night's build reuse the build's parse of the project.
    assert args[args.index("--vars") + 1] == dbt_build_args(Path("/srv/cmi/warehouse.duckdb"))[-1]
    assert json.loads(args[args.index("--vars") + 1]) == {"warehouse_path": "/srv/cmi/warehouse.duckdb"}
    assert args[args.index("--threads") + 1] == "1"


def test_the_summary_counts_models_sources_tests_and_catalog_relations():
    manifest = {
        "nodes": {
            "model.cmi.a": {"resource_type": "model", "description": "One row per day."},
            "model.cmi.b": {"resource_type": "model", "description": ""},
            "test.cmi.t": {"resource_type": "test"},
            "unit_test.cmi.u": {"resource_type": "unit_test"},
        },
        "sources": {"source.cmi.raw.sales": {}},
    }
    catalog = {"nodes": {"model.cmi.a": {}}, "sources": {"source.cmi.raw.sales": {}}}
    assert dbt_docs_summary(manifest, catalog) == {
        "models": 2,
        "models_described": 1,
        "sources": 1,
        "tests": 2,
        "catalog_relations": 2,
    }
