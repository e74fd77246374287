"""Alerts: written to the alert file and posted to the webhook, retried with back-off, the webhook never named."""

import json
import urllib.error
from urllib.parse import urlsplit

from orchestration.alerts import (
    ALERT_FILE,
    Alert,
    StepFailure,
    deliver,
    error_cause,
    failure_alert,
    held_partners_alert,
)


def test_an_alert_goes_to_the_file_and_the_webhook(tmp_path, webhook):
    url, received = webhook
    alert = failure_alert(
        "nightly", "run-1", "2026-11-24", [StepFailure("dbt_warehouse", "Model fct_sales_daily failed")]
    )
    outcomes = deliver(alert, tmp_path, url)
    assert outcomes == [f"written to {tmp_path / ALERT_FILE}", "posted to the webhook (attempt 1)"]
    written = [json.loads(line) for line in (tmp_path / ALERT_FILE).read_text().splitlines()]
    assert written[0]["severity"] == "error" and written[0]["partition"] == "2026-11-24"
    assert received[0]["path"] == urlsplit(url).path
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
