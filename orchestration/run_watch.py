"""Runs that died without a word: a `cmi run` killed (`kill -9`, the OOM killer, a reboot) stays `STARTED` for good.

`cmi run` executes the night in its own process and tags the run with that process (host and pid). Whoever
looks next, the next `cmi run` when it starts or the `abandoned_run_alerts` sensor every few minutes, finds
runs still marked started whose process is gone, marks them failed in Dagster with the cause and raises an
alert (alert file and webhook), so a killed night is never mistaken for one still running.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from orchestration.alerts import Alert, deliver
from orchestration.runtime import settings

HOST_TAG = "cmi/host"
PID_TAG = "cmi/pid"
ACTIVE_STATUSES = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING]


def process_tags() -> dict[str, str]:
    """Tags naming the process that executes a run in place (host and pid)."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def process_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def abandoned_runs(
    instance: dg.DagsterInstance, alive: Callable[[int], bool] = process_is_alive
) -> list[dg.DagsterRun]:
    """Runs marked started by a process of this host that no longer exists (never the current process)."""
    host, me = socket.gethostname(), os.getpid()
    found = []
    for run in instance.get_runs(dg.RunsFilter(statuses=ACTIVE_STATUSES)):
        pid = run.tags.get(PID_TAG, "")
        if run.tags.get(HOST_TAG) != host or not pid.isdigit() or int(pid) == me:
            continue
        if not alive(int(pid)):
            found.append(run)
    return found


def abandoned_run_alert(run: dg.DagsterRun) -> Alert:
    cause = (
        f"process {run.tags.get(PID_TAG)} on {run.tags.get(HOST_TAG)} ended without finishing the run "
        "(killed, out of memory, or the machine restarted)"
    )
    return Alert(
        "error",
        "Run killed or crashed",
        run.job_name,
        run.run_id,
        run.tags.get("dagster/partition"),
        (f"cause: {cause}", "marked failed; rerun the night (every step is idempotent)"),
    )


def fail_abandoned_runs(
    instance: dg.DagsterInstance,
    data_dir: Path | None = None,
    webhook_url: str | None = None,
    alive: Callable[[int], bool] = process_is_alive,
) -> list[tuple[dg.DagsterRun, list[str]]]:
    """Mark every abandoned run failed with its cause and raise an alert for each; returns them with outcomes."""
    handled = []
    for run in abandoned_runs(instance, alive):
        alert = abandoned_run_alert(run)
        instance.report_run_failed(run, message=f"{alert.title}: {alert.details[0]}")
        outcomes = deliver(alert, data_dir or settings.data_dir(), webhook_url)
        handled.append((run, outcomes))
    return handled


@dg.sensor(
    name="abandoned_run_alerts",
    description="Marks runs failed whose `cmi run` process died (killed, out of memory) and alerts with the cause.",
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def abandoned_run_alerts(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    handled = fail_abandoned_runs(context.instance, settings.data_dir(), settings.alert_webhook_url())
    for run, outcomes in handled:
        context.log.warning(f"run {run.run_id} was abandoned by its process: marked failed; {'; '.join(outcomes)}")
    return dg.SkipReason(f"{len(handled)} abandoned run(s) marked failed" if handled else "no abandoned run")
