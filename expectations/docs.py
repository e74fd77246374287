"""Great Expectations Data Docs for one night: every suite's per-partner results as GX renders them, as static HTML.

Pure of Dagster. The asset checks keep each suite's GX results of the night as JSON (`write_validation_record`);
after the checks, `build_quality_site` loads them into an ephemeral GX context and lets GX's SiteBuilder render
the index, one page per suite and partner, and one page per suite.

Offline: GX's pages link Bootstrap, jQuery, bootstrap-table and Font Awesome from CDNs. The validation and suite
pages render their tables on the server, so they are readable without those; the index table and the pass / fail
icons are not, which is why the site gets an index renderer with server-side tables and a stylesheet with text
icons (both GX's own extension points: a site index `renderer`, and `custom_data_docs/styles` under the context's
plugins directory).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import great_expectations as gx
from great_expectations.core.expectation_validation_result import (
    ExpectationSuiteValidationResult,
    expectationSuiteValidationResultSchema,
)
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import ProgressBarsConfig
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.render import RenderedStringTemplateContent, RenderedTableContent
from great_expectations.render.renderer.site_index_page_renderer import SiteIndexPageRenderer

from expectations.runner import SuiteRun

SITE_NAME = "partner data quality"
RECORD_SUFFIX = ".gx.json"

# Font Awesome draws GX's status icons; without its CDN stylesheet they would be empty. Text glyphs and colours
# show the same state offline and online alike.
OFFLINE_STYLES = """
.fas.fa-check-circle::before { content: "\\2714"; }
.fas.fa-times::before { content: "\\2718"; }
.fas.fa-exclamation-triangle::before { content: "\\26A0"; }
.fas.fa-check-circle, .fas.fa-times, .fas.fa-exclamation-triangle {
  font-family: sans-serif; font-style: normal; font-weight: bold;
}
.text-success { color: #1e7e34; }
.text-danger { color: #bd2130; }
.text-warning { color: #b8860b; }
.cmi-status-text { margin-left: 0.3em; }
"""


@dataclass(frozen=True)
class ValidationRecord:
    """One suite's results of a night, as GX serialises them: the suite and one result per partner."""

    check_name: str
    suite: dict
    results: dict[str, ExpectationSuiteValidationResult]


@dataclass(frozen=True)
class QualitySite:
    """Where GX wrote the night's site and how many pages it holds."""

    index: Path
    validation_pages: list[Path]
    suite_pages: list[Path]
    failed_validations: list[str]


def record_path(folder: Path, check_name: str) -> Path:
    return folder / f"{check_name}{RECORD_SUFFIX}"


def write_validation_record(folder: Path, check_name: str, run: SuiteRun | None) -> Path:
    """Keep one check's GX results of the night; a rerun replaces them, and a check with no rows leaves none.

    Written beside the target and renamed into place, so the docs never read half a file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = record_path(folder, check_name)
    document = {
        "check_name": check_name,
        "suite": run.suite.to_json_dict() if run is not None else None,
        "results": {partner: result.to_json_dict() for partner, result in (run.results if run else {}).items()},
    }
    staging = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    staging.write_text(json.dumps(document, indent=1, sort_keys=True, default=str), encoding="utf-8")
    os.replace(staging, target)
    return target


def read_validation_records(folder: Path) -> list[ValidationRecord]:
    """Every check's record in `folder`, in check-name order; checks that validated no rows are left out."""
    records = []
    for path in sorted(folder.glob(f"*{RECORD_SUFFIX}")):
        document = json.loads(path.read_text(encoding="utf-8"))
        if not document.get("suite"):
            continue
        results = {
            partner: expectationSuiteValidationResultSchema.load(result)
            for partner, result in sorted(document["results"].items())
        }
        records.append(ValidationRecord(check_name=document["check_name"], suite=document["suite"], results=results))
    return records


class OfflineSiteIndexPageRenderer(SiteIndexPageRenderer):
    """GX's index page with its link tables written as HTML rows, so the index reads without bootstrap-table.

    GX fills these tables from a CDN script; here each row carries a plain link and the status in words.
    """

    @classmethod
    def _generate_validation_results_link_table(cls, index_links_dict: dict) -> RenderedTableContent:
        links = sorted(
            index_links_dict.get("validations_links", []),
            key=lambda link: (link.get("expectation_suite_name"), link.get("run_name")),
        )
        rows = [
            [
                cls._status_cell(bool(link.get("validation_success"))),
                cls._link_cell(str(link.get("run_name")), link["filepath"]),
                cls._render_expectation_suite_cell(
                    link.get("expectation_suite_name"), link.get("expectation_suite_filepath")
                ),
                cls._get_formatted_datetime(link.get("run_time")) or "",
            ]
            for link in links
        ]
        return RenderedTableContent(
            table=rows,
            header_row=["Status", "Partner (run name)", "Expectation suite", "Run time"],
            styling={
                "classes": ["col-12", "ge-index-page-table-container"],
                "body": {"classes": ["table", "table-sm", "ge-index-page-validation-results-table"]},
            },
        )

    @classmethod
    def _generate_expectation_suites_link_table(cls, index_links_dict: dict) -> RenderedTableContent:
        links = sorted(index_links_dict.get("expectations_links", []), key=lambda link: link["expectation_suite_name"])
        return RenderedTableContent(
            table=[[cls._link_cell(link["expectation_suite_name"], link["filepath"])] for link in links],
            header_row=["Expectation suite"],
            styling={
                "classes": ["col-12", "ge-index-page-table-container"],
                "body": {"classes": ["table", "table-sm", "ge-index-page-expectation_suites-table"]},
            },
        )

    @classmethod
    def _status_cell(cls, success: bool) -> RenderedStringTemplateContent:
        icon = ["fas", "fa-check-circle", "text-success"] if success else ["fas", "fa-times", "text-danger"]
        return RenderedStringTemplateContent(
            content_block_type="string_template",
            string_template={
                "template": "$icon$status",
                "params": {"icon": "", "status": "Passed" if success else "Failed"},
                "styling": {
                    "params": {
                        "icon": {"tag": "i", "classes": icon},
                        "status": {"tag": "span", "classes": ["cmi-status-text"]},
                    }
                },
            },
        )

    @classmethod
    def _link_cell(cls, text: str, href: str) -> RenderedStringTemplateContent:
        return RenderedStringTemplateContent(
            content_block_type="string_template",
            string_template={
                "template": "$link_text",
                "params": {"link_text": text},
                "tag": "a",
                "styling": {"attributes": {"href": href}},
            },
        )


def _batch_identifier(result: ExpectationSuiteValidationResult, suite_name: str) -> str:
    """The batch GX validated, as the validation recorded it on its expectations."""
    for item in result.results:
        batch_id = item.expectation_config.kwargs.get("batch_id")
        if batch_id:
            return str(batch_id)
    return suite_name


def _run_identifier(result: ExpectationSuiteValidationResult, partner_id: str) -> RunIdentifier:
    run_id = result.meta.get("run_id") or {}
    if isinstance(run_id, RunIdentifier):
        return run_id
    return RunIdentifier(run_name=run_id.get("run_name") or partner_id, run_time=run_id.get("run_time"))


def _docs_context(plugins_dir: Path) -> gx.data_context.AbstractDataContext:
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.variables.plugins_directory = str(plugins_dir)
    styles = plugins_dir / "custom_data_docs" / "styles"
    styles.mkdir(parents=True)
    (styles / "data_docs_custom_styles.css").write_text(OFFLINE_STYLES, encoding="utf-8")
    return context


def _drop_unlinked_static_files(site_dir: Path) -> None:
    """GX copies its whole static folder (about 4 MB of fonts and tutorial images) into every site, yet the pages
    inline their styles and link only the favicon; a night's site keeps just what its pages link to."""
    static = site_dir / "static"
    pages = "\n".join(page.read_text(encoding="utf-8") for page in site_dir.rglob("*.html"))
    for path in sorted(static.rglob("*"), reverse=True):
        if path.is_file() and path.relative_to(site_dir).as_posix() not in pages:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def build_quality_site(records: Sequence[ValidationRecord], site_dir: Path, title: str = SITE_NAME) -> QualitySite:
    """Render the records as a GX Data Docs site in `site_dir`: `index.html`, `validations/`, `expectations/`."""
    with tempfile.TemporaryDirectory(prefix="cmi-gx-plugins-") as plugins:
        context = _docs_context(Path(plugins))
        failed: list[str] = []
        added_suites: set[str] = set()
        for record in records:
            suite = gx.ExpectationSuite(**record.suite)
            if suite.name not in added_suites:
                context.suites.add(suite)
                added_suites.add(suite.name)
            for partner_id, result in record.results.items():
                key = ValidationResultIdentifier(
                    expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
                    run_id=_run_identifier(result, partner_id),
                    batch_identifier=_batch_identifier(result, suite.name),
                )
                context.validation_results_store.set(key, result)
                if not result.success:
                    failed.append(f"{suite.name}: {partner_id}")
        context.add_data_docs_site(
            title,
            {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site_dir)},
                "site_index_builder": {
                    "class_name": "DefaultSiteIndexBuilder",
                    "renderer": {"module_name": __name__, "class_name": OfflineSiteIndexPageRenderer.__name__},
                },
            },
        )
        context.build_data_docs(site_names=[title])
    _drop_unlinked_static_files(site_dir)
    return QualitySite(
        index=site_dir / "index.html",
        validation_pages=sorted((site_dir / "validations").rglob("*.html")),
        suite_pages=sorted((site_dir / "expectations").rglob("*.html")),
        failed_validations=failed,
    )


def partners_in(records: Iterable[ValidationRecord]) -> list[str]:
    return sorted({partner for record in records for partner in record.results})
