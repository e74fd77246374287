"""The dbt project as Dagster assets: staging, intermediate and mart models with dbt tests as asset checks."""

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from orchestration.runtime.partitions import NIGHTLY_PARTITIONS, known_before
from orchestration.runtime.retries import retry_on_transient

GROUP = "warehouse"
OWNER = "team:analytics-engineering"


class WarehouseTranslator(DagsterDbtTranslator):
    """Asset keys mirror `schema.table` in the warehouse, so a key tells an analyst where to query it."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey([dbt_resource_props["config"]["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str:
        return GROUP

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        return [OWNER]


TRANSLATOR = WarehouseTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def dbt_build_args(as_of_date: str) -> list[str]:
    """`dbt build` for one business date: models and their tests run together so tests gate what follows.

    The date and the deliveries it may see (``known_before``): a past night is built from the files that had
    arrived by then, so a backfill writes what the night itself would have.
    """
    cut = known_before(date.fromisoformat(as_of_date))
    return ["build", "--vars", json.dumps({"as_of_date": as_of_date, "known_before": cut.isoformat(sep=" ")})]


def build_warehouse_assets(project: DbtProject) -> dg.AssetsDefinition:
    """Turn the prepared dbt project's manifest into one partitioned multi-asset."""

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=TRANSLATOR,
        partitions_def=NIGHTLY_PARTITIONS,
        # Each business date is its own `dbt build`: the as-of var is one date, never a range.
        backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
        name="warehouse_models",
    )
    def warehouse_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        """Clean, resolve and join the partner feeds into the marts the forecast and plan read."""
        # dbt killed from outside or stopped on a lock is run again; a failed model or test fails the step at once.
        with retry_on_transient():
            yield from dbt.cli(dbt_build_args(context.partition_key), context=context).stream()

    return warehouse_models
