"""The composition root: the one `Definitions` that `workspace.yaml` loads."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from assets.forecasts import build_forecast_checks, demand_forecast
from assets.freshness import readable_partner_configs
from assets.ingest import partner_feeds, supplier_master_data
from assets.quality import build_gate_checks, build_quality_checks, data_docs, partner_data_gate
from assets.replenishment import build_plan_checks, exceptions, partner_exports, replenishment_plan
from assets.reports import nightly_report, warehouse_snapshot
from assets.warehouse import build_warehouse_assets, dbt_docs
from orchestration.alert_sensors import held_partner_alerts_sensor, run_failure_alerts
from orchestration.jobs import feed_freshness_definitions, ingest_job, nightly_job, nightly_schedule
from orchestration.run_console import LOGGERS
from orchestration.run_watch import abandoned_run_alerts
from orchestration.runtime import settings
from orchestration.runtime.dbt import dbt_executable, dbt_project, ensure_manifest
from orchestration.runtime.partitions import nightly_partitions, with_partitions
from orchestration.runtime.resources import Artefacts, FeedFolders, ForecastCompute, Warehouse
from orchestration.sensors import landing_sensor


def build_definitions(partner_config_dir: Path | None = None) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor, with resources that resolve their paths when a run starts.

    The freshness checks are made from the partner configs (`partner_config_dir`, else the setting), and the dbt
    assets from the manifest, which is parsed first if a model changed. A run may still point the resources at other
    paths through its run configuration, as `cmi run --warehouse/--landing/--partner-config` does.
    """
    project = dbt_project()
    ensure_manifest(project)
    config_dir = partner_config_dir or settings.partner_config_dir()
    freshness = feed_freshness_definitions(config_dir, settings.schedule_timezone())
    # Every partitioned asset and check shares the nights' partitions, starting where the setting says.
    nights = nightly_partitions(settings.partitions_start())
    assets = [
        supplier_master_data,
        partner_feeds,
        build_warehouse_assets(project, nights),
        partner_data_gate,
        data_docs,
        dbt_docs,
        demand_forecast,
        replenishment_plan,
        exceptions,
        partner_exports,
        nightly_report,
        warehouse_snapshot,
    ]
    partners = sorted(readable_partner_configs(config_dir))
    return dg.Definitions(
        assets=[with_partitions(asset, nights) for asset in assets],
        asset_checks=[
            *build_quality_checks(nights),
            *build_gate_checks(partners, nights),
            *build_forecast_checks(nights),
            *build_plan_checks(nights),
            *freshness.asset_checks,
        ],
        loggers=LOGGERS,
        jobs=[nightly_job, ingest_job, *freshness.jobs],
        sensors=[
            landing_sensor(ingest_job),
            run_failure_alerts,
            held_partner_alerts_sensor([nightly_job]),
            abandoned_run_alerts,
        ],
        schedules=[nightly_schedule(settings.schedule_timezone()), *freshness.schedules],
        resources={
            "warehouse": Warehouse(),
            "feed_folders": FeedFolders(),
            "artefacts": Artefacts(),
            "forecast_compute": ForecastCompute(),
            "dbt": DbtCliResource(project_dir=project, dbt_executable=str(dbt_executable())),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Built when the code location loads, so the dbt manifest and settings are read then, not at import."""
    return build_definitions()
