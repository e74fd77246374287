"""The alert sensors read real runs: a failed run raises a failure alert, the gate's materialization names the
partners it holds."""

import dagster as dg

from orchestration import alert_sensors
from orchestration.alerts import ALERT_FILE
from orchestration.runtime import settings


@dg.op
def breaks():
    raise RuntimeError("the landing share is gone")


@dg.job
def fragile():
    breaks()


def test_the_failure_sensor_alerts_on_a_failed_run(tmp_path, monkeypatch, webhook):
    url, received = webhook
    monkeypatch.setenv(settings.DATA_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(settings.ALERT_WEBHOOK_ENV, url)
    with dg.instance_for_test() as instance:
        result = fragile.execute_in_process(instance=instance, raise_on_error=False, tags={"dagster/partition": "d"})
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alerts",
            dagster_event=failure,
            dagster_instance=instance,
            dagster_run=result.dagster_run,
        ).for_run_failure()
        alert_sensors.run_failure_alerts(context)
    assert len(received) == 1
    text = received[0]["json"]["text"]
    assert "job fragile for d" in text
    # The cause, not Dagster's "Error occurred while executing op": what a person on call acts on.
    assert "failed step: breaks: RuntimeError: the landing share is gone" in text
    assert "s3cr3t" not in (tmp_path / ALERT_FILE).read_text()


@dg.asset(key=alert_sensors.GATE_KEY)
def gate_holding_one_partner() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={alert_sensors.HELD_METADATA: "huaxin_retail"})


@dg.asset(key=alert_sensors.GATE_KEY)
def gate_holding_none() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={alert_sensors.HELD_METADATA: ""})


def test_held_partners_are_read_from_the_runs_gate_materialization():
    with dg.instance_for_test() as instance:
        holding = dg.materialize([gate_holding_one_partner], instance=instance)
        clear = dg.materialize([gate_holding_none], instance=instance)
        assert alert_sensors.held_partners_of_run(instance, holding.run_id) == ["huaxin_retail"]
        assert alert_sensors.held_partners_of_run(instance, clear.run_id) == []
        assert alert_sensors.held_partners_of_run(instance, "another-run") == []
