"""Alerts for the people on call: a failed run, or partners whose data was held from the plan.

Every alert is appended to ``<data>/alerts/alerts.jsonl`` (one JSON object a line, for any log shipper) and, when
``CMI_ALERT_WEBHOOK_URL`` is set, posted as JSON to that webhook (Slack, Teams and most chat tools accept a ``text``
field). The webhook URL is a secret: it never appears in a log line, an error message or the alert file.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ALERT_FILE = Path("alerts") / "alerts.jsonl"
# Runs that `cmi run` executes raise their own alerts; the daemon's alert sensors leave them alone.
ALERTS_TAG = "cmi/alerts"
WEBHOOK_ATTEMPTS = 3
WEBHOOK_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Alert:
    severity: str  # "error": a run failed; "warning": the run finished but something needs a look
    title: str
    job: str
    run_id: str
    partition: str | None = None
    details: tuple[str, ...] = ()
    raised_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def text(self) -> str:
        """One readable message: what happened, to which night, and where to look."""
        night = f" for {self.partition}" if self.partition else ""
        lines = [f"[{self.severity.upper()}] {self.title}: job {self.job}{night} (run {self.run_id})"]
        lines += [f"- {detail}" for detail in self.details]
        return "\n".join(lines)

    def payload(self) -> dict:
        return {"text": self.text(), **asdict(self), "details": list(self.details)}


@dataclass(frozen=True)
class StepFailure:
    """One failed step of a run and the first line of what went wrong in it (None when nothing was recorded)."""

    step: str
    cause: str | None = None


# Dagster wraps an error raised in a step in one of its own, whose message only names the step; the cause is inside.
_WRAPPER_MESSAGES = ("Error occurred while executing", "Execution of step", "Execution of run")


def first_line(message: str | None, limit: int = 300) -> str | None:
    """The first non-blank line of a message, cut to ``limit`` characters."""
    for line in (message or "").splitlines():
        if line.strip():
            return line.strip()[:limit]
    return None


def error_cause(error) -> str | None:
    """The first line of the error that caused a step to fail, skipping Dagster's wrappers.

    ``error`` is a Dagster ``SerializableErrorInfo`` (``message``, ``cls_name``, ``cause``, ``context``), read by
    its attributes so this module needs no Dagster import: the first error in the chain that is not a wrapper
    decides, as that is the message a person acts on ("the landing share is gone", "Model fct_sales_daily failed").
    """
    seen = 0
    while error is not None and seen < 20:
        name = getattr(error, "cls_name", None)
        line = first_line(getattr(error, "message", None))
        # Dagster writes the message as `module.Class: text`; the class is said once, unqualified.
        if line and name and line.split(": ", 1)[0].rsplit(".", 1)[-1] == name:
            line = line.split(": ", 1)[1] if ": " in line else ""
        if line and not line.startswith(_WRAPPER_MESSAGES):
            return f"{name}: {line}" if name else line
        error = getattr(error, "cause", None) or getattr(error, "context", None)
        seen += 1
    return None


def step_failures(events) -> list[StepFailure]:
    """Each failed step of a run with its cause, from the run's Dagster events (step failure events only)."""
    failures = []
    for event in events:
        if not getattr(event, "is_step_failure", False):
            continue
        data = getattr(event, "step_failure_data", None)
        cause = error_cause(getattr(data, "error", None)) or first_line(getattr(event, "message", None))
        failures.append(StepFailure(event.step_key or "?", cause))
    return failures


def failure_alert(job: str, run_id: str, partition: str | None, failures: list[StepFailure]) -> Alert:
    """A failed run: each failed step with the first line of its error, so the alert says why, not only where."""
    details = [f"failed step: {f.step}" + (f": {f.cause}" if f.cause else "") for f in failures]
    return Alert("error", "Run failed", job, run_id, partition, tuple(details))


def held_partners_alert(job: str, run_id: str, partition: str | None, held: list[str]) -> Alert:
    details = tuple(f"{partner}: blocking quality check failed; no new plan rows" for partner in held)
    return Alert("warning", f"{len(held)} partner(s) held from the plan", job, run_id, partition, details)


def _post_json(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
        response.read()


def deliver(
    alert: Alert,
    data_dir: Path,
    webhook_url: str | None,
    post: Callable[[str, bytes], None] = _post_json,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Write the alert to the alert file and post it to the webhook; returns what happened, safe to log.

    A webhook that fails is retried with exponential back-off and jitter; if it still fails, the alert is in the
    file and the failure is reported without the URL.
    """
    path = data_dir / ALERT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        file.write(json.dumps(alert.payload(), ensure_ascii=False) + "\n")
    outcomes = [f"written to {path}"]
    if not webhook_url:
        return outcomes
    body = json.dumps(alert.payload(), ensure_ascii=False).encode()
    for attempt in range(1, WEBHOOK_ATTEMPTS + 1):
        try:
            post(webhook_url, body)
            outcomes.append(f"posted to the webhook (attempt {attempt})")
            return outcomes
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = _without(str(getattr(error, "reason", error)), webhook_url)
            if attempt == WEBHOOK_ATTEMPTS:
                outcomes.append(f"webhook failed after {attempt} attempts: {type(error).__name__}: {reason}")
                return outcomes
            sleep(2 ** (attempt - 1) * (1 + random.uniform(-0.25, 0.25)))
    return outcomes  # pragma: no cover - the loop always returns


def _without(message: str, secret: str) -> str:
    return message.replace(secret, "<webhook>") if secret else message
