"""Which failures are transient, and that retrying stays inside a step."""

from __future__ import annotations

import errno

import pytest
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from orchestration.runtime.retries import is_transient_failure, retry_on_transient
from orchestration.runtime.transient import Backoff


def test_outside_a_step_failures_propagate_unchanged():
    with pytest.raises(OSError, match="Input/output error"), retry_on_transient(Backoff(base_seconds=0)):
        raise OSError(errno.EIO, "Input/output error")


def test_dbt_failures_are_judged_by_exit_code_and_error_text():
    model_failed = DagsterDbtCliRuntimeError(
        description="The dbt CLI process with command\n\n`dbt build`\n\nfailed with exit code `1`.\n\n"
        "Database Error in model fct_sales_daily\n  Binder Error: column not found"
    )
    killed = DagsterDbtCliRuntimeError(
        description="The dbt CLI process with command\n\n`dbt build`\n\nfailed with exit code `-9`."
    )
    assert not is_transient_failure(model_failed)
    assert is_transient_failure(killed)
    assert is_transient_failure(OSError(errno.ETIMEDOUT, "Connection timed out"))
