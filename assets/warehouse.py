"""The dbt project as Dagster assets: staging, intermediate and mart models with dbt tests as asset checks, and
dbt's own docs of the warehouse."""

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from assets.renderers.sites import staged_directory
from orchestration.runtime.dbt import docs_fingerprint, keep_partial_parse, prune_run_targets, spill_room_warning
from orchestration.runtime.partitions import NIGHTLY_PARTITIONS, known_before
from orchestration.runtime.resources import Artefacts, Warehouse
from orchestration.runtime.retries import retry_on_transient

GROUP = "warehouse"
OWNER = "team:analytics-engineering"

DBT_DOCS_KEY = dg.AssetKey(["warehouse", "dbt_docs"])
# `static_index.html` is the page to open: manifest and catalog are embedded, so it works from file://.
# `index.html` fetches the two JSON files beside it, which browsers allow only over http.
DBT_DOCS_PAGE = "static_index.html"
DBT_DOCS_FILES = (DBT_DOCS_PAGE, "index.html", "manifest.json", "catalog.json")
# Beside the docs: what they were made of and for which night (``docs_fingerprint``).
DBT_DOCS_STAMP = "fingerprint.json"
# dbt's threads for a night's build and docs, the one place to change them. Two were tried: faster only when dbt ran
# alone on a loaded machine, not inside a night on a quieter one (more CPU for no gain), and two threads writing the
# one DuckDB file can meet a write-write conflict. Measured in README "Measured".
DBT_THREADS = 1
# The night's business date and knowledge cut, as dbt's macros `as_of_date()` and `known_before()` read them.
AS_OF_DATE_ENV = "CMI_DBT_AS_OF_DATE"
KNOWN_BEFORE_ENV = "CMI_DBT_KNOWN_BEFORE"
WAREHOUSE_COLUMNS_SQL = """
    select table_schema, table_name, column_name, data_type from information_schema.columns
    where table_catalog = current_database() order by table_schema, table_name, ordinal_position"""


def model_key(table: str) -> dg.AssetKey:
    """The asset key of the dbt model that builds `schema.table`.

    Keys mirror `schema.table` in the warehouse, so a key tells an analyst where to query it, and Python assets
    can name the models they read without loading the manifest.
    """
    return dg.AssetKey(table.split("."))


# The marts (and the one staging view) that the Python assets downstream of dbt read.
FCT_SALES_DAILY = model_key("marts.fct_sales_daily")
FCT_PROMOTION_DAYS = model_key("marts.fct_promotion_days")
FCT_INVENTORY_DAILY = model_key("marts.fct_inventory_daily")
FCT_SHIPMENTS = model_key("marts.fct_shipments")
REPLENISHMENT_INPUTS = model_key("marts.replenishment_inputs")
REPLENISHMENT_POLICY = model_key("marts.replenishment_policy")
DIM_PARTNER = model_key("marts.dim_partner")
SUPPLIER_STOCK = model_key("staging.stg_supplier__supplier_stock")


class WarehouseTranslator(DagsterDbtTranslator):
    """Models are keyed by `model_key`; sources keep dagster-dbt's keys (or the `meta.dagster.asset_key` they name)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return model_key(f"{dbt_resource_props['config']['schema']}.{dbt_resource_props['name']}")

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return GROUP

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return [OWNER]


TRANSLATOR = WarehouseTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def dbt_vars(warehouse: Path) -> dict[str, str]:
    """What every dbt command of a night is told as vars: the warehouse file it works on.

    The warehouse path reaches dbt's profile as a var, so a run configured for another warehouse builds that one.
    It is the same night after night, so dbt keeps its parse of the project between nights: a change of vars makes
    dbt parse the whole project again. What does change nightly goes in ``dbt_night_environment``.
    """
    return {"warehouse_path": str(warehouse)}


def dbt_night_environment(business_date: str) -> dict[str, str]:
    """The business date and the deliveries it may see (``known_before``), for the environment dbt starts in.

    A past night is built from the files that had arrived by then, so a backfill writes what the night itself would
    have. The macros ``as_of_date()`` and ``known_before()`` read both only while dbt runs, never while it parses,
    so a new night does not make dbt parse the project again (a var would).
    """
    cut = known_before(date.fromisoformat(business_date))
    return {AS_OF_DATE_ENV: business_date, KNOWN_BEFORE_ENV: cut.isoformat(sep=" ")}


@contextmanager
def dbt_environment(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` in the environment while dbt is started, as they were before once it has been.

    dagster-dbt starts dbt with this process's environment and takes no more. A step runs alone in its process
    (in its own process, or one after another in `cmi run`), and only the start of dbt is inside.
    """
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def dbt_build_args(warehouse: Path) -> list[str]:
    """`dbt build` of a night: models and their data tests run together so tests gate what follows.

    dbt's unit tests check the models' SQL on fixed rows, not the night's data: they run with the project's tests
    (``tests/dbt``), and a night does not repeat them (a quarter of a small night's build).
    """
    return [
        "build",
        "--exclude-resource-type",
        "unit_test",
        "--threads",
        str(DBT_THREADS),
        "--vars",
        json.dumps(dbt_vars(warehouse)),
    ]


def dbt_docs_args(warehouse: Path) -> list[str]:
    """`dbt docs generate` for the night just built (its date in ``dbt_night_environment``).

    The catalog step reads column types from the warehouse, so this runs after the models, in the same night.
    `--static` writes `static_index.html` with manifest and catalog inside it; the night's date makes the compiled
    SQL in the docs the SQL that built the night the docs were generated for.
    """
    variables = json.dumps(dbt_vars(warehouse))
    return ["docs", "generate", "--static", "--threads", str(DBT_THREADS), "--vars", variables]


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


class BuildProgress:
    """Counts what `dbt build` has finished, for a progress line every ``every`` models while it runs.

    The build takes a minute on the demo and says nothing on its own; these lines are what `cmi run` prints meanwhile.
    """

    def __init__(self, models_total: int, tests_total: int, every: int = 5):
        self.models_total, self.tests_total, self.every = models_total, tests_total, every
        self.models_done = self.tests_done = self.tests_failed = 0
        self._started = time.perf_counter()

    def record(self, event: object) -> str | None:
        """Count one event of dbt's stream; returns a progress line when one is due."""
        if isinstance(event, dg.AssetCheckResult):
            self.tests_done += 1
            self.tests_failed += not event.passed
            return None
        if isinstance(event, dg.Output | dg.AssetMaterialization):
            self.models_done += 1
            if self.models_done % self.every == 0 and self.models_done < self.models_total:
                return self.line()
        return None

    def line(self) -> str:
        failed = f", {self.tests_failed} failed" if self.tests_failed else ""
        return (
            f"dbt build: {self.models_done}/{self.models_total} models, "
            f"{self.tests_done}/{self.tests_total} tests{failed} ({time.perf_counter() - self._started:.0f} s)"
        )


def build_warehouse_assets(
    project: DbtProject, partitions_def: dg.PartitionsDefinition = NIGHTLY_PARTITIONS
) -> dg.AssetsDefinition:
    """Turn the prepared dbt project's manifest into one partitioned multi-asset (the manifest is read here)."""

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=TRANSLATOR,
        partitions_def=partitions_def,
        # Each business date is its own `dbt build`: the as-of var is one date, never a range.
        backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
        name="warehouse_models",
    )
    def warehouse_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse):
        """Clean, resolve and join the partner feeds into the marts the forecast and plan read."""
        # Earlier invocations' target folders are removed but for the last few, so run artefacts stay bounded.
        target_dir = Path(project.project_dir) / project.target_path
        prune_run_targets(target_dir)
        if warning := spill_room_warning(warehouse.resolved_path()):
            context.log.warning(warning)
        # dbt killed from outside or stopped on a lock is run again; a failed model or test fails the step at once.
        with retry_on_transient():
            args = dbt_build_args(warehouse.resolved_path())
            progress = BuildProgress(len(context.selected_asset_keys), len(context.selected_asset_check_keys))
            with dbt_environment(dbt_night_environment(context.partition_key)):
                invocation = dbt.cli(args, context=context)
            for event in invocation.stream():
                if line := progress.record(event):
                    context.log.info(line)
                if isinstance(event, dg.AssetCheckResult) and not event.passed:
                    context.log.warning(f"dbt test failed: {event.check_name} on {event.asset_key.to_user_string()}")
                yield event
            context.log.info(progress.line())
        # dagster-dbt gives the next dbt of this project the parse kept there: a night like this one parses again
        # only what changed (dbt checks that itself). It only saves the next dbt time, so a build that succeeded
        # does not fail over it.
        try:
            keep_partial_parse(invocation.target_path, target_dir)
        except OSError as error:
            context.log.warning(f"dbt's parse was not kept for the next dbt, which parses the project in full: {error}")

    return warehouse_models


# The steps after dbt that write tables (the gate, the forecast, the plan, its exceptions and exports), named here
# by key since their modules import this one. dbt declares their tables as sources, so its catalog has their columns
# only once they exist.
WRITTEN_AFTER_DBT = [
    dg.AssetKey(["quality", "partner_data_gate"]),
    dg.AssetKey(["forecasts", "demand_forecast"]),
    dg.AssetKey(["replenishment", "replenishment_plan"]),
    dg.AssetKey(["replenishment", "exceptions"]),
    dg.AssetKey(["replenishment", "partner_exports"]),
]


@dg.asset(
    key=DBT_DOCS_KEY,
    # After every step that writes a table: a new warehouse's first docs then hold every table of the night, and its
    # second night, finding the same tables and columns, keeps them instead of generating them again. dbt builds
    # the whole project in one step, so the marts come before too.
    deps=[
        FCT_SALES_DAILY,
        FCT_INVENTORY_DAILY,
        FCT_SHIPMENTS,
        REPLENISHMENT_INPUTS,
        DIM_PARTNER,
        SUPPLIER_STOCK,
        *WRITTEN_AFTER_DBT,
    ],
    group_name=GROUP,
    owners=[OWNER],
    kinds={"dbt", "html"},
    partitions_def=NIGHTLY_PARTITIONS,
)
def dbt_docs(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: Warehouse, artefacts: Artefacts
) -> dg.MaterializeResult:
    """dbt docs of the warehouse: lineage from partner feeds to marts, model and column descriptions, tests.

    Generated only when the project, the warehouse's tables and columns or dbt changed since the docs were last
    made (``docs_fingerprint``): a night like the one before keeps them, and says for which night they were made.
    """
    started = time.perf_counter()
    target = artefacts.dbt_docs()
    fingerprint = docs_fingerprint(Path(dbt.project_dir), _warehouse_columns(warehouse), _dbt_versions())
    stamp = _read_stamp(target / DBT_DOCS_STAMP)
    made_for = context.partition_key
    unchanged = stamp.get("fingerprint") == fingerprint and all((target / n).is_file() for n in DBT_DOCS_FILES)
    if unchanged:
        made_for = stamp["business_date"]
    else:
        with staged_directory(target) as site_dir, tempfile.TemporaryDirectory(prefix="cmi-dbt-docs-") as scratch:
            # Another process may hold the warehouse for a moment (an analyst, a second run): retried like dbt build.
            with retry_on_transient():
                args = dbt_docs_args(warehouse.resolved_path())
                with dbt_environment(dbt_night_environment(context.partition_key)):
                    invocation = dbt.cli(args, target_path=Path(scratch))
                invocation.wait()
            for name in DBT_DOCS_FILES:
                shutil.copy2(Path(scratch) / name, site_dir / name)
            stamp = {"fingerprint": fingerprint, "business_date": made_for}
            (site_dir / DBT_DOCS_STAMP).write_text(json.dumps(stamp), encoding="utf-8")
    summary = dbt_docs_summary(
        json.loads((target / "manifest.json").read_text(encoding="utf-8")),
        json.loads((target / "catalog.json").read_text(encoding="utf-8")),
    )
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(target / DBT_DOCS_PAGE)),
            **summary,
            "generated_for": made_for,
            "regenerated": not unchanged,
            "build_seconds": round(time.perf_counter() - started, 2),
        }
    )


def _warehouse_columns(warehouse: Warehouse) -> list[tuple]:
    """The warehouse's tables and columns, the part of dbt's catalog that can change without the project."""
    if not warehouse.resolved_path().exists():
        return []
    with warehouse.connect(read_only=True) as conn:
        return conn.execute(WAREHOUSE_COLUMNS_SQL).fetchall()


def _dbt_versions() -> str:
    from importlib.metadata import version

    return f"dbt-core {version('dbt-core')}, dbt-duckdb {version('dbt-duckdb')}"


def _read_stamp(path: Path) -> dict:
    try:
        stamp = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return stamp if isinstance(stamp, dict) and {"fingerprint", "business_date"} <= stamp.keys() else {}
