"""The composition root: the one `Definitions` that `workspace.yaml` loads."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource, get_asset_key_for_model

from assets.docs import build_dbt_docs, build_quality_docs
from assets.forecasts import build_forecast_assets
from assets.ingest import partner_feeds, supplier_master_data
from assets.quality import SUITE_CHECKS, build_partner_gate, build_quality_checks
from assets.reports import nightly_report, partner_exports, warehouse_snapshot
from assets.warehouse import build_warehouse_assets
from orchestration.alert_sensors import held_partner_alerts_sensor, run_failure_alerts
from orchestration.jobs import feed_freshness_definitions, ingest_job, nightly_job, nightly_schedule
from orchestration.runtime import settings
from orchestration.runtime.dbt import dbt_executable, dbt_project, ensure_manifest
from orchestration.runtime.resources import FeedFolders, Warehouse
from orchestration.sensors import landing_sensor


@dg.definitions
def defs() -> dg.Definitions:
    """Built when the code location loads, so the dbt manifest and settings are read then, not at import."""
    settings.apply_config_file()
    project = dbt_project()
    ensure_manifest(project)
    warehouse_models = build_warehouse_assets(project)

    def mart_key(table: str) -> dg.AssetKey:
        return get_asset_key_for_model([warehouse_models], table.split(".")[1])

    mart_keys = {
        table: mart_key(table)
        for table in {check.table for check in SUITE_CHECKS if not check.table.startswith("raw.")}
        | {
            "marts.fct_sales_daily",
            "marts.fct_inventory_daily",
            "marts.fct_shipments",
            "marts.replenishment_policy",
            "staging.stg_supplier__supplier_stock",
            "marts.dim_partner",
        }
    }
    freshness = feed_freshness_definitions(settings.partner_config_dir(), settings.schedule_timezone())
    return dg.Definitions(
        assets=[
            supplier_master_data,
            partner_feeds,
            warehouse_models,
            build_partner_gate(mart_keys),
            build_quality_docs(mart_keys),
            build_dbt_docs(warehouse_models.keys),
            *build_forecast_assets(mart_keys),
            partner_exports,
            nightly_report,
            warehouse_snapshot,
        ],
        asset_checks=[*build_quality_checks(mart_keys), *freshness.asset_checks],
        jobs=[nightly_job, ingest_job, *freshness.jobs],
        sensors=[landing_sensor(ingest_job), run_failure_alerts, held_partner_alerts_sensor([nightly_job])],
        schedules=[nightly_schedule(settings.schedule_timezone()), *freshness.schedules],
        resources={
            "warehouse": Warehouse(),
            "feed_folders": FeedFolders(),
            "dbt": DbtCliResource(project_dir=project, dbt_executable=str(dbt_executable())),
        },
    )
