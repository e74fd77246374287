"""Sensors that raise alerts (orchestration/alerts.py) when a run fails or a night holds partners from the plan.

They run in the Dagster daemon (`dagster dev` or a deployment) and read only Dagster's own event log, never DuckDB,
so they cannot collide with a run that is writing the warehouse. `cmi run` raises the same alerts itself.
"""

from __future__ import annotations

import dagster as dg

from orchestration.alerts import (
    ALERTS_TAG,
    StepFailure,
    deliver,
    error_cause,
    failure_alert,
    first_line,
    held_partners_alert,
    step_failures,
)
from orchestration.runtime import settings

GATE_KEY = dg.AssetKey(["quality", "partner_data_gate"])
HELD_METADATA = "held_partner_ids"


def held_partners_of_run(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Partners the run's data gate held, read from the gate's materialization in that run."""
    records = instance.fetch_materializations(GATE_KEY, limit=20).records
    for record in records:
        if record.run_id == run_id and record.asset_materialization is not None:
            value = record.asset_materialization.metadata.get(HELD_METADATA)
            text = getattr(value, "value", value) or ""
            return [partner.strip() for partner in str(text).split(",") if partner.strip()]
    return []


@dg.run_failure_sensor(
    name="run_failure_alerts",
    description="Alerts (alert file, and the webhook in CMI_ALERT_WEBHOOK_URL if set) when any run fails.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def run_failure_alerts(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    if run.tags.get(ALERTS_TAG) == "cli":
        return
    failures = step_failures(context.get_step_failure_events())
    if not failures:
        # The run failed outside any step (a bad run config, a resource that would not start): its own error says why.
        error = getattr(context.failure_event.event_specific_data, "error", None)
        failures = [StepFailure("run", error_cause(error) or first_line(context.failure_event.message))]
    alert = failure_alert(run.job_name, run.run_id, run.tags.get("dagster/partition"), failures)
    for outcome in deliver(alert, settings.data_dir(), settings.alert_webhook_url()):
        context.log.info(f"alert for run {run.run_id}: {outcome}")


def held_partner_alerts_sensor(monitored_jobs: list) -> dg.SensorDefinition:
    @dg.run_status_sensor(
        name="held_partner_alerts",
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=monitored_jobs,
        description="Alerts when a successful night held partners from forecast and plan (blocking checks failed).",
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def _sensor(context: dg.RunStatusSensorContext) -> None:
        run = context.dagster_run
        if run.tags.get(ALERTS_TAG) == "cli":
            return
        held = held_partners_of_run(context.instance, run.run_id)
        if not held:
            return
        alert = held_partners_alert(run.job_name, run.run_id, run.tags.get("dagster/partition"), held)
        for outcome in deliver(alert, settings.data_dir(), settings.alert_webhook_url()):
            context.log.info(f"alert for run {run.run_id}: {outcome}")

    return _sensor
