"""dbt docs of the warehouse: the docs asset runs `dbt docs generate --static` on the small dbt night of
tests/fixtures.py and publishes one self-contained page with the models' lineage and the catalog's columns.

The raw tables are enough for the catalog step (it reads what exists); a full `dbt build` is test_dbt_project's.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import dagster as dg
import pytest
from dagster_dbt import DbtCliResource

from assets.warehouse import DBT_DOCS_KEY, DBT_DOCS_PAGE, DBT_DOCS_STAMP, dbt_docs
from orchestration.runtime.dbt import dbt_executable, dbt_project
from orchestration.runtime.resources import Artefacts, Warehouse
from tests.fixtures import DBT_NIGHT, write_fixture

RAW_TABLES = ("sales", "stock_snapshots", "partner_forecasts", "feed_files", "feed_rejects", "partners")
RAW_TABLES += ("partner_locations", "products", "partner_items", "replenishment_agreements", "shipments")
RAW_TABLES += ("supplier_stock",)


@pytest.fixture(scope="module")
def published_docs(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("dbt-docs")
    warehouse = scratch / "warehouse.duckdb"
    write_fixture(warehouse)
    # The run's resources name the warehouse and the artefact folder: nothing is taken from the environment.
    artefacts = Artefacts(data_dir=str(scratch / "data"))
    resources = {
        "dbt": DbtCliResource(project_dir=dbt_project(), dbt_executable=str(dbt_executable())),
        "warehouse": Warehouse(path=str(warehouse)),
        "artefacts": artefacts,
    }
    result = dg.materialize([dbt_docs], partition_key=DBT_NIGHT.isoformat(), resources=resources)
    site = artefacts.dbt_docs()
    assert result.success
    (materialization,) = result.asset_materializations_for_node("warehouse__dbt_docs")
    return site, materialization, resources


def test_the_static_page_is_published_with_its_inputs(published_docs):
    site, materialization, _ = published_docs
    assert materialization.asset_key == DBT_DOCS_KEY
    assert materialization.metadata["path"].value == str(site / DBT_DOCS_PAGE)
    assert sorted(p.name for p in site.iterdir()) == [
        "catalog.json",
        DBT_DOCS_STAMP,
        "index.html",
        "manifest.json",
        DBT_DOCS_PAGE,
    ]


def test_the_static_page_holds_lineage_descriptions_and_catalog_columns(published_docs):
    site, _, _ = published_docs
    page = (site / DBT_DOCS_PAGE).read_text(encoding="utf-8")
    # The manifest inside the page: the mart, its description and what it is built from.
    assert "model.cmi.fct_sales_daily" in page
    assert "one row per partner, location, product and day" in page
    assert "model.cmi.int_sales_resolved" in page
    # The catalog inside the page: a raw table's columns as the warehouse holds them.
    catalog = json.loads((site / "catalog.json").read_text(encoding="utf-8"))
    (raw_sales,) = [source for key, source in catalog["sources"].items() if key.endswith(".sales")]
    assert "units_sold" in raw_sales["columns"]


def test_the_static_page_needs_nothing_from_the_network(published_docs):
    site, _, _ = published_docs
    page = (site / DBT_DOCS_PAGE).read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=[\"']https?:", page)
    assert not re.search(r"<link[^>]+href=[\"']https?:", page)


def test_the_counts_describe_the_project(published_docs):
    _, materialization, _ = published_docs
    metadata = materialization.metadata
    assert metadata["models"].value >= 20
    assert 0 < metadata["models_described"].value <= metadata["models"].value
    assert metadata["sources"].value >= 5
    assert metadata["tests"].value > 0
    # The fixture warehouse holds the raw tables only: the Python-written sources (forecasts, plan, quality) are
    # declared for lineage but not built here.
    assert metadata["catalog_relations"].value >= len(RAW_TABLES)


def test_a_night_like_the_last_keeps_the_docs_and_says_which_night_they_describe(published_docs):
    site, first, resources = published_docs
    assert first.metadata["regenerated"].value is True
    page = site / DBT_DOCS_PAGE
    made = page.stat().st_mtime_ns
    next_night = (DBT_NIGHT + timedelta(days=1)).isoformat()

    result = dg.materialize([dbt_docs], partition_key=next_night, resources=resources)
    assert result.success
    (materialization,) = result.asset_materializations_for_node("warehouse__dbt_docs")
    kept = materialization.metadata
    assert kept["regenerated"].value is False
    assert kept["generated_for"].value == DBT_NIGHT.isoformat()
    assert kept["models"].value == first.metadata["models"].value
    assert page.stat().st_mtime_ns == made

    # A changed warehouse changes the fingerprint (tests/unit/test_dbt_fingerprint.py), and a changed fingerprint
    # takes the path the first night took.
    stamp = json.loads((site / DBT_DOCS_STAMP).read_text(encoding="utf-8"))
    assert stamp["business_date"] == DBT_NIGHT.isoformat() and len(stamp["fingerprint"]) == 64
