"""Alerts: written to the alert file and posted to the webhook, retried with back-off, the webhook never named."""

import json
import urllib.error
from urllib.parse import urlsplit

from orchestration.alerts import ALERT_FILE, Alert, deliver, failure_alert, held_partners_alert


def test_an_alert_goes_to_the_file_and_the_webhook(tmp_path, webhook):
    url, received = webhook
    alert = failure_alert("nightly", "run-1", "2026-11-24", ["dbt_warehouse"], "Model fct_sales_daily failed\nmore")
    outcomes = deliver(alert, tmp_path, url)
    assert outcomes == [f"written to {tmp_path / ALERT_FILE}", "posted to the webhook (attempt 1)"]
    written = [json.loads(line) for line in (tmp_path / ALERT_FILE).read_text().splitlines()]
    assert written[0]["severity"] == "error" and written[0]["partition"] == "2026-11-24"
    assert received[0]["path"] == urlsplit(url).path
    text = received[0]["json"]["text"]
    assert text.startswith("[ERROR] Run failed: job nightly for 2026-11-24 (run run-1)")
    assert "- failed step: dbt_warehouse" in text and "- error: Model fct_sales_daily failed" in text
    assert "more" not in text


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
