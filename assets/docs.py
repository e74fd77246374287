"""Browsable documentation of each night: GX Data Docs of the night's validations, and the dbt project's docs.

Both are static sites under the data directory, rebuilt after the checks and models they describe:
`<data>/quality_docs/<business date>/index.html` and `<data>/dbt_docs/static_index.html`.
"""

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from assets.quality import GROUP as QUALITY_GROUP
from assets.quality import OWNER as QUALITY_OWNER
from assets.quality import SUITE_CHECKS, guarded_key, validation_results_dir
from assets.warehouse import GROUP as WAREHOUSE_GROUP
from assets.warehouse import OWNER as WAREHOUSE_OWNER
from expectations.docs import SITE_NAME, build_quality_site, partners_in, read_validation_records
from orchestration.runtime import settings
from orchestration.runtime.partitions import NIGHTLY_PARTITIONS

QUALITY_DOCS_KEY = dg.AssetKey(["quality", "data_docs"])
DBT_DOCS_KEY = dg.AssetKey(["warehouse", "dbt_docs"])

# `static_index.html` is the page to open: manifest and catalog are embedded, so it works from file://.
# `index.html` fetches the two JSON files beside it, which browsers allow only over http.
DBT_DOCS_PAGE = "static_index.html"
DBT_DOCS_FILES = (DBT_DOCS_PAGE, "index.html", "manifest.json", "catalog.json")


def quality_docs_dir(as_of: date) -> Path:
    """One Data Docs site per business date: a night's page set stays as it was when later nights run."""
    return settings.data_dir() / "quality_docs" / as_of.isoformat()


def dbt_docs_dir() -> Path:
    """One dbt docs site, of the warehouse as the last night built it."""
    return settings.data_dir() / "dbt_docs"


@contextmanager
def staged_directory(target: Path) -> Iterator[Path]:
    """Build into a fresh folder beside `target` and swap it in whole once the build succeeds.

    A reader never sees half a site, a rerun leaves no page of the previous build behind, and a failed build
    keeps the last good site.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    staging.chmod(0o755)
    retired = target.with_name(f".{target.name}.{os.getpid()}.retired")
    if target.exists():
        os.replace(target, retired)
    os.replace(staging, target)
    shutil.rmtree(retired, ignore_errors=True)


def dbt_docs_args(as_of_date: str) -> list[str]:
    """`dbt docs generate` for the business date just built.

    The catalog step reads column types from the warehouse, so this runs after the models, in the same night.
    `--static` writes `static_index.html` with manifest and catalog inside it; the as-of var makes the compiled
    SQL in the docs the SQL that built the night.
    """
    return ["docs", "generate", "--static", "--vars", json.dumps({"as_of_date": as_of_date})]


def dbt_docs_summary(manifest: Mapping, catalog: Mapping) -> dict[str, int]:
    """How much the docs cover: documented models and sources (a page each), tests, and tables in the catalog."""
    nodes = manifest.get("nodes", {}).values()
    models = [node for node in nodes if node.get("resource_type") == "model"]
    return {
        "models": len(models),
        "models_described": sum(1 for node in models if node.get("description")),
        "sources": len(manifest.get("sources", {})),
        "tests": sum(1 for node in nodes if node.get("resource_type") in {"test", "unit_test"}),
        "catalog_relations": len(catalog.get("nodes", {})) + len(catalog.get("sources", {})),
    }


def build_quality_docs(mart_keys: dict[str, dg.AssetKey]) -> dg.AssetsDefinition:
    """GX Data Docs of the night; it depends on every table a GX suite guards, so it runs after their checks."""

    @dg.asset(
        key=QUALITY_DOCS_KEY,
        deps=sorted({guarded_key(check.table, mart_keys) for check in SUITE_CHECKS}, key=str),
        group_name=QUALITY_GROUP,
        owners=[QUALITY_OWNER],
        kinds={"great_expectations", "html"},
        partitions_def=NIGHTLY_PARTITIONS,
    )
    def data_docs(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        """Great Expectations Data Docs of the night: each suite's result per partner, expectation by expectation."""
        as_of = date.fromisoformat(context.partition_key)
        records = read_validation_records(validation_results_dir(as_of))
        if not records:
            context.log.warning(f"no GX validation results kept for {as_of}: the Data Docs index will be empty")
        started = time.perf_counter()
        target = quality_docs_dir(as_of)
        with staged_directory(target) as site_dir:
            site = build_quality_site(records, site_dir, f"{SITE_NAME} {as_of.isoformat()}")
        failed = site.failed_validations
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(target / "index.html")),
                "validation_pages": len(site.validation_pages),
                "suite_pages": len(site.suite_pages),
                "partners": len(partners_in(records)),
                "failed_validations": dg.MetadataValue.md("\n".join(f"- {item}" for item in failed) or "_none_"),
                "build_seconds": round(time.perf_counter() - started, 2),
            }
        )

    return data_docs


def build_dbt_docs(model_keys: Iterable[dg.AssetKey]) -> dg.AssetsDefinition:
    """dbt docs of the warehouse; it depends on every dbt model, so the catalog sees the night's tables."""

    @dg.asset(
        key=DBT_DOCS_KEY,
        deps=sorted(set(model_keys), key=str),
        group_name=WAREHOUSE_GROUP,
        owners=[WAREHOUSE_OWNER],
        kinds={"dbt", "html"},
        partitions_def=NIGHTLY_PARTITIONS,
    )
    def dbt_docs(context: dg.AssetExecutionContext, dbt: DbtCliResource) -> dg.MaterializeResult:
        """dbt docs of the warehouse: lineage from partner feeds to marts, model and column descriptions, tests."""
        started = time.perf_counter()
        target = dbt_docs_dir()
        with staged_directory(target) as site_dir, tempfile.TemporaryDirectory(prefix="cmi-dbt-docs-") as scratch:
            dbt.cli(dbt_docs_args(context.partition_key), target_path=Path(scratch)).wait()
            for name in DBT_DOCS_FILES:
                shutil.copy2(Path(scratch) / name, site_dir / name)
            summary = dbt_docs_summary(
                json.loads((site_dir / "manifest.json").read_text(encoding="utf-8")),
                json.loads((site_dir / "catalog.json").read_text(encoding="utf-8")),
            )
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(target / DBT_DOCS_PAGE)),
                **summary,
                "build_seconds": round(time.perf_counter() - started, 2),
            }
        )

    return dbt_docs
