import json
import threading
import urllib.error
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from orchestration import alert_sensors
from orchestration.alerts import (
    ALERT_FILE,
    Alert,
    StepFailure,
    deliver,
    error_cause,
    failure_alert,
    held_partners_alert,
)
from orchestration.runtime import settings

SECRET_URL_PATH = "/services/T000/s3cr3t-token"


@pytest.fixture
def webhook():
    """A real HTTP endpoint on loopback that records what is posted to it."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "json": json.loads(body)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}{SECRET_URL_PATH}", received
    server.shutdown()


def test_an_alert_goes_to_the_file_and_the_webhook(tmp_path, webhook):
    url, received = webhook
    alert = failure_alert(
        "nightly", "run-1", "2026-11-24", [StepFailure("dbt_warehouse", "Model fct_sales_daily failed")]
    )
    outcomes = deliver(alert, tmp_path, url)
    assert outcomes == [f"written to {tmp_path / ALERT_FILE}", "posted to the webhook (attempt 1)"]
    written = [json.loads(line) for line in (tmp_path / ALERT_FILE).read_text().splitlines()]
    assert written[0]["severity"] == "error" and written[0]["partition"] == "2026-11-24"
    assert received[0]["path"] == SECRET_URL_PATH
    text = received[0]["json"]["text"]
    assert text.startswith("[ERROR] Run failed: job nightly for 2026-11-24 (run run-1)")
    assert "- failed step: dbt_warehouse: Model fct_sales_daily failed" in text


def test_without_a_webhook_the_alert_is_still_written(tmp_path):
    alert = held_partners_alert("nightly", "run-2", "2026-11-24", ["huaxin_retail"])
    assert deliver(alert, tmp_path, None) == [f"written to {tmp_path / ALERT_FILE}"]
    assert "huaxin_retail: blocking quality check failed" in (tmp_path / ALERT_FILE).read_text()


def test_a_failing_webhook_is_retried_with_back_off_and_never_named(tmp_path):
    secret = "https://hooks.example.com/services/s3cr3t"
    calls, waits = [], []

    def post(url, body):
        calls.append(url)
        raise urllib.error.URLError(f"cannot reach {url}")

    outcomes = deliver(Alert("error", "Run failed", "nightly", "r"), tmp_path, secret, post=post, sleep=waits.append)
    assert len(calls) == 3 and len(waits) == 2
    assert 0.75 <= waits[0] <= 1.25 and 1.5 <= waits[1] <= 2.5
    assert outcomes[-1].startswith("webhook failed after 3 attempts: URLError: cannot reach <webhook>")
    assert all("s3cr3t" not in line for line in outcomes)
    assert "s3cr3t" not in (tmp_path / ALERT_FILE).read_text()


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


class _Error:
    """The shape of Dagster's SerializableErrorInfo that `error_cause` reads."""

    def __init__(self, message, cls_name, cause=None):
        self.message, self.cls_name, self.cause, self.context = message, cls_name, cause, None


def test_the_cause_skips_dagsters_wrapper_and_keeps_the_first_line():
    root = _Error("duckdb.duckdb.IOException: IO Error: Cannot open file\nstack...", "IOException")
    wrapper = _Error(
        'dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while executing op "x":',
        "DagsterExecutionStepExecutionError",
        cause=root,
    )
    assert error_cause(wrapper) == "IOException: IO Error: Cannot open file"
    assert error_cause(None) is None


def test_a_failure_alert_names_each_step_and_its_cause():
    alert = failure_alert(
        "nightly", "r", "2026-11-24", [StepFailure("partner_feeds", "OSError: gone"), StepFailure("x")]
    )
    assert alert.details == ("failed step: partner_feeds: OSError: gone", "failed step: x")
