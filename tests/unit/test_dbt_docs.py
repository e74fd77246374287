"""dbt docs of the warehouse: the arguments of `dbt docs generate` and the summary the docs asset reports."""

from __future__ import annotations

import json
from pathlib import Path

from assets.warehouse import dbt_docs_args, dbt_docs_summary


def test_docs_are_generated_static_for_the_business_date():
    args = dbt_docs_args("2025-06-10", Path("/srv/cmi/warehouse.duckdb"))
    assert args[:3] == ["docs", "generate", "--static"]
    assert json.loads(args[args.index("--vars") + 1]) == {
        "as_of_date": "2025-06-10",
        "warehouse_path": "/srv/cmi/warehouse.duckdb",
    }
    assert args[args.index("--threads") + 1] == "2"


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
