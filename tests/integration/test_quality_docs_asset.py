"""The Data Docs asset renders the night from the records the checks kept (in process)."""

from __future__ import annotations

import dagster as dg

from assets.quality import QUALITY_DOCS_KEY, data_docs
from orchestration.runtime.resources import Artefacts
from tests.fixtures import QUALITY_NIGHT, keep_quality_night


def test_the_data_docs_asset_renders_the_night_from_the_checks_records(tmp_path):
    artefacts = Artefacts(data_dir=str(tmp_path))
    keep_quality_night(artefacts.quality_results(QUALITY_NIGHT))
    # The guarded tables' assets are not part of this run: the docs asset is materialized alone.
    result = dg.materialize(
        [data_docs],
        partition_key=QUALITY_NIGHT.isoformat(),
        resources={"artefacts": artefacts},
        selection=[QUALITY_DOCS_KEY],
    )
    assert result.success
    (materialization,) = result.asset_materializations_for_node("quality__data_docs")
    assert materialization.asset_key == QUALITY_DOCS_KEY
    metadata = materialization.metadata
    assert metadata["path"].value == str(artefacts.quality_docs(QUALITY_NIGHT) / "index.html")
    assert (tmp_path / "quality_docs" / "2025-06-10" / "index.html").is_file()
    assert metadata["validation_pages"].value == 4
    assert metadata["partners"].value == 2
