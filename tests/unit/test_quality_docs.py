"""The night's Great Expectations Data Docs, from real suite results on a small frame: GX's SiteBuilder writes an
index and one page per suite and partner, a failed expectation shows as failed on its partner's page, and the
index and statuses read without the CDN scripts and fonts GX links to."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from assets.quality import QUALITY_DOCS_KEY, data_docs
from assets.renderers.sites import staged_directory
from expectations.docs import (
    build_quality_site,
    read_validation_records,
    record_path,
    write_validation_record,
)
from expectations.raw_feeds import raw_sales_suite, raw_stock_snapshots_suite
from expectations.runner import run_suite_by_partner
from orchestration.runtime.resources import Artefacts

AS_OF = date(2025, 6, 10)
DAYS = pd.date_range("2025-06-04", "2025-06-10")
CLEAN, BROKEN = "clean_partner", "broken_partner"
NEGATIVE_RULE = "No negative sales lines."


def sales_lines(partner_id: str, last_day_units: float) -> pd.DataFrame:
    """A week of daily sales lines for one item; the last day's count decides whether the partner is clean."""
    return pd.DataFrame(
        {
            "partner_id": partner_id,
            "location_id": "S01",
            "product_ref": "SKU-1",
            "period_start": DAYS,
            "period_end": DAYS,
            "units_sold": [3.0] * (len(DAYS) - 1) + [last_day_units],
            "units_returned": 0.0,
            "source_file_id": "f-" + DAYS.strftime("%m%d"),
            "source_line": 2,
        }
    )


def stock_lines(partner_id: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "partner_id": partner_id,
            "location_id": "S01",
            "product_ref": "SKU-1",
            "as_of_date": DAYS,
            "on_hand_qty": 10.0,
            "on_order_qty": 0.0,
            "in_transit_qty": 0.0,
            "source_file_id": "s-" + DAYS.strftime("%m%d"),
            "source_line": 2,
        }
    )


def keep_night(folder: Path) -> None:
    """What the nightly checks leave behind: one GX record per suite, each partner validated on its own."""
    sales = pd.concat([sales_lines(CLEAN, 3.0), sales_lines(BROKEN, -1.0)], ignore_index=True)
    stock = pd.concat([stock_lines(CLEAN), stock_lines(BROKEN)], ignore_index=True)
    write_validation_record(folder, "gx_raw_sales", run_suite_by_partner(sales, raw_sales_suite(AS_OF)))
    write_validation_record(
        folder, "gx_raw_stock_snapshots", run_suite_by_partner(stock, raw_stock_snapshots_suite(AS_OF))
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    records_dir = tmp_path_factory.mktemp("records")
    keep_night(records_dir)
    site_dir = tmp_path_factory.mktemp("site") / "2025-06-10"
    return build_quality_site(read_validation_records(records_dir), site_dir, "partner data quality 2025-06-10")


def without_scripts(page: Path) -> str:
    """What a browser shows when the CDN scripts do not load: the markup outside <script>."""
    return re.sub(r"<script.*?</script>", "", page.read_text(encoding="utf-8"), flags=re.S)


def table_rows(markup: str) -> list[str]:
    return re.findall(r"<tr.*?</tr>", markup, flags=re.S)


def page_of(site, suite: str, partner_id: str) -> Path:
    (page,) = [p for p in site.validation_pages if p.parts[-4:-2] == (suite, partner_id)]
    return page


def test_the_site_has_an_index_and_a_page_per_suite_and_partner(site):
    assert site.index.is_file()
    assert len(site.validation_pages) == 4
    assert {p.stem for p in site.suite_pages} == {"raw_sales", "raw_stock_snapshots"}
    index = without_scripts(site.index)
    for page in site.validation_pages:
        assert page.relative_to(site.index.parent).as_posix() in index.replace("%20", " ")
    assert "partner data quality 2025-06-10" in index


def test_the_site_keeps_only_the_static_files_its_pages_link(site):
    static = sorted(p.relative_to(site.index.parent).as_posix() for p in site.index.parent.rglob("static/**/*.*"))
    assert static == ["static/images/favicon.ico"]


def test_a_failed_expectation_shows_failed_on_its_partner_page(site):
    broken = without_scripts(page_of(site, "raw_sales", BROKEN))
    (rule_row,) = [row for row in table_rows(broken) if NEGATIVE_RULE in row]
    assert "fa-times" in rule_row
    assert "1 unexpected" in rule_row
    assert re.search(r"Status:.*?Failed", broken, flags=re.S)

    clean = without_scripts(page_of(site, "raw_sales", CLEAN))
    (clean_row,) = [row for row in table_rows(clean) if NEGATIVE_RULE in row]
    assert "fa-check-circle" in clean_row
    assert site.failed_validations == [f"raw_sales: {BROKEN}"]


def test_the_index_lists_every_partner_with_its_status_without_scripts(site):
    rows = [row for row in table_rows(without_scripts(site.index)) if "validations/" in row]
    status = {
        (re.search(r"validations/([a-z_]+)/", row).group(1), re.search(rf"({CLEAN}|{BROKEN})", row).group(1)): (
            "Failed" if "Failed" in row else "Passed"
        )
        for row in rows
    }
    assert status == {
        ("raw_sales", CLEAN): "Passed",
        ("raw_sales", BROKEN): "Failed",
        ("raw_stock_snapshots", CLEAN): "Passed",
        ("raw_stock_snapshots", BROKEN): "Passed",
    }


def test_status_icons_have_a_text_fallback_inlined_in_every_page(site):
    for page in [site.index, *site.validation_pages, *site.suite_pages]:
        assert ".fas.fa-times::before" in page.read_text(encoding="utf-8")


def test_a_rerun_replaces_a_check_record_and_an_empty_check_leaves_none(tmp_path):
    keep_night(tmp_path)
    keep_night(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gx_raw_sales.gx.json", "gx_raw_stock_snapshots.gx.json"]
    write_validation_record(tmp_path, "gx_raw_sales", None)
    assert record_path(tmp_path, "gx_raw_sales").exists()
    assert [record.check_name for record in read_validation_records(tmp_path)] == ["gx_raw_stock_snapshots"]


def test_a_staged_site_is_swapped_in_whole_and_a_failed_build_keeps_the_last_one(tmp_path):
    target = tmp_path / "site"
    with staged_directory(target) as staging:
        (staging / "index.html").write_text("first")
        (staging / "stale.html").write_text("only in the first build")
    with staged_directory(target) as staging:
        (staging / "index.html").write_text("second")
    assert sorted(p.name for p in target.iterdir()) == ["index.html"]
    with pytest.raises(RuntimeError), staged_directory(target) as staging:
        (staging / "index.html").write_text("half")
        raise RuntimeError("render failed")
    assert (target / "index.html").read_text() == "second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_the_data_docs_asset_renders_the_night_from_the_checks_records(tmp_path):
    artefacts = Artefacts(data_dir=str(tmp_path))
    keep_night(artefacts.quality_results(AS_OF))
    # The guarded tables' assets are not part of this run: the docs asset is materialized alone.
    result = dg.materialize(
        [data_docs], partition_key=AS_OF.isoformat(), resources={"artefacts": artefacts}, selection=[QUALITY_DOCS_KEY]
    )
    assert result.success
    (materialization,) = result.asset_materializations_for_node("quality__data_docs")
    assert materialization.asset_key == QUALITY_DOCS_KEY
    metadata = materialization.metadata
    assert metadata["path"].value == str(artefacts.quality_docs(AS_OF) / "index.html")
    assert (tmp_path / "quality_docs" / "2025-06-10" / "index.html").is_file()
    assert metadata["validation_pages"].value == 4
    assert metadata["partners"].value == 2
