"""The night's Great Expectations Data Docs, from real suite results on a small frame: GX's SiteBuilder writes an
index and one page per suite and partner, a failed expectation shows as failed on its partner's page, and the
index and statuses read without the CDN scripts and fonts GX links to."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assets.renderers.sites import staged_directory
from expectations.docs import build_quality_site, read_validation_records, record_path, write_validation_record
from tests.fixtures import BROKEN_PARTNER, CLEAN_PARTNER, keep_quality_night

NEGATIVE_RULE = "No negative sales lines."


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    records_dir = tmp_path_factory.mktemp("records")
    keep_quality_night(records_dir)
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
    broken = without_scripts(page_of(site, "raw_sales", BROKEN_PARTNER))
    (rule_row,) = [row for row in table_rows(broken) if NEGATIVE_RULE in row]
    assert "fa-times" in rule_row
    assert "1 unexpected" in rule_row
    assert re.search(r"Status:.*?Failed", broken, flags=re.S)

    clean = without_scripts(page_of(site, "raw_sales", CLEAN_PARTNER))
    (clean_row,) = [row for row in table_rows(clean) if NEGATIVE_RULE in row]
    assert "fa-check-circle" in clean_row
    assert site.failed_validations == [f"raw_sales: {BROKEN_PARTNER}"]


def test_the_index_lists_every_partner_with_its_status_without_scripts(site):
    rows = [row for row in table_rows(without_scripts(site.index)) if "validations/" in row]
    status = {
        (
            re.search(r"validations/([a-z_]+)/", row).group(1),
            re.search(rf"({CLEAN_PARTNER}|{BROKEN_PARTNER})", row).group(1),
        ): ("Failed" if "Failed" in row else "Passed")
        for row in rows
    }
    assert status == {
        ("raw_sales", CLEAN_PARTNER): "Passed",
        ("raw_sales", BROKEN_PARTNER): "Failed",
        ("raw_stock_snapshots", CLEAN_PARTNER): "Passed",
        ("raw_stock_snapshots", BROKEN_PARTNER): "Passed",
    }


def test_status_icons_have_a_text_fallback_inlined_in_every_page(site):
    for page in [site.index, *site.validation_pages, *site.suite_pages]:
        assert ".fas.fa-times::before" in page.read_text(encoding="utf-8")


def test_a_rerun_replaces_a_check_record_and_an_empty_check_leaves_none(tmp_path):
    keep_quality_night(tmp_path)
    keep_quality_night(tmp_path)
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
