"""Retry a step of the night when it failed for a transient reason, and only then.

A job-wide `dg.RetryPolicy` cannot be used: it retries every exception, including a failed dbt model (dagster-dbt
raises those as a retryable `Failure`) and plain bugs. Instead the code that touches the warehouse, the file systems
and dbt runs inside `retry_on_transient`, which turns a transient failure (`transient.is_transient`)
into `dg.RetryRequested` with an exponential, jittered wait, and lets every other failure through unchanged, so it
fails the step at once. Dagster then re-runs the whole step: every step of the night is idempotent (files load in
one transaction each, tables are replaced per date, plan history only grows when the plan changes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from orchestration.runtime.transient import Backoff, dbt_exit_code, dbt_failure_is_transient, is_transient

# The night's steps: five attempts over about two and a half minutes (see `Backoff`).
NIGHTLY_BACKOFF = Backoff()


def is_transient_failure(error: BaseException) -> bool:
    """`is_transient`, plus dbt invocations: their exit code and error text decide (`dbt_failure_is_transient`)."""
    if isinstance(error, DagsterDbtCliRuntimeError):
        text = error.description or str(error)
        return dbt_failure_is_transient(dbt_exit_code(text), text)
    return is_transient(error)


def _current_step_context() -> dg.OpExecutionContext | None:
    try:
        return dg.OpExecutionContext.get()
    except dg.DagsterInvariantViolationError:
        return None


@contextmanager
def retry_on_transient(
    backoff: Backoff = NIGHTLY_BACKOFF, context: dg.OpExecutionContext | None = None
) -> Iterator[None]:
    """Ask Dagster to run the current step again after a transient failure in the block; re-raise anything else.

    ``context`` defaults to the step being executed. Outside a step (a script, a unit test calling a helper) there
    is nothing to retry and every failure propagates as it is.
    """
    try:
        yield
    except dg.RetryRequested:
        raise
    except Exception as error:
        step = context or _current_step_context()
        if step is None or not is_transient_failure(error):
            raise
        retry = step.retry_number + 1
        wait = backoff.delay_before(retry)
        if retry <= backoff.max_retries:
            step.log.warning(
                f"transient failure, retry {retry} of {backoff.max_retries} in {wait:.1f} s: "
                f"{type(error).__name__}: {error}"
            )
        raise dg.RetryRequested(max_retries=backoff.max_retries, seconds_to_wait=wait) from error
