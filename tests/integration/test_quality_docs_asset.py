"""The Data Docs asset renders the night from the records the checks kept (in process)."""

from __future__ import annotations

import dagster as dg

from assets.docs import QUALITY_DOCS_KEY, build_quality_docs, quality_docs_dir
from expectations.assets import validation_results_dir
from tests.fixtures import QUALITY_NIGHT, keep_quality_night


def test_the_data_docs_asset_renders_the_night_from_the_checks_records(tmp_path, monkeypatch):
    monkeypatch.setenv("CMI_DATA_DIR", str(tmp_path))
    keep_quality_night(validation_results_dir(QUALITY_NIGHT))
    result = dg.materialize([build_quality_docs({})], partition_key=QUALITY_NIGHT.isoformat())
    assert result.success
    (materialization,) = result.asset_materializations_for_node("quality__data_docs")
    assert materialization.asset_key == QUALITY_DOCS_KEY
    metadata = materialization.metadata
    assert metadata["path"].value == str(quality_docs_dir(QUALITY_NIGHT) / "index.html")
    assert (tmp_path / "quality_docs" / "2025-06-10" / "index.html").is_file()
    assert metadata["validation_pages"].value == 4
    assert metadata["partners"].value == 2
