"""Which failures are retried, and the waits between attempts: pure rules, no Dagster run."""

from __future__ import annotations

import errno
import subprocess
from concurrent.futures.process import BrokenProcessPool

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestration.runtime.transient import Backoff, dbt_exit_code, dbt_failure_is_transient, is_transient

LOCK_MESSAGE = (
    'IO Error: Could not set lock on file "/data/warehouse.duckdb": Conflicting lock is held in '
    "/usr/bin/python3 (PID 4242)"
)


@pytest.mark.parametrize(
    "error",
    [
        duckdb.IOException(LOCK_MESSAGE),
        duckdb.IOException("IO Error: Could not read from file: Input/output error"),
        duckdb.TransactionException("TransactionContext Error: Catalog write-write conflict on create"),
        OSError(errno.EIO, "Input/output error", "/landing/hansa_handel/Bestand_20250630.csv"),
        OSError(errno.ESTALE, "Stale file handle", "/archive/redwood_grocers"),
        OSError(errno.EAGAIN, "Resource temporarily unavailable"),
        TimeoutError("reading the landing share timed out"),
        ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
        BrokenProcessPool("a child process terminated abruptly"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_lock_io_and_timeout_errors_are_transient(error):
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        duckdb.IOException('IO Error: The file "w.duckdb" exists, but it is not a valid DuckDB database file!'),
        duckdb.IOException('IO Error: No files found that match the pattern "/landing/_supplier/products.csv"'),
        duckdb.CatalogException("Catalog Error: Table with name fct_sales_daily does not exist!"),
        duckdb.ConversionException("Conversion Error: Could not convert string 'n/a' to INT32"),
        FileNotFoundError(errno.ENOENT, "No such file or directory", "/landing"),
        PermissionError(errno.EACCES, "Permission denied", "/archive"),
        OSError(errno.ENOSPC, "No space left on device"),
        ValueError("replenishment inputs have missing values in: on_hand"),
        KeyError("partner_id"),
        subprocess.CalledProcessError(1, ["dbt", "parse"]),
    ],
    ids=lambda error: type(error).__name__,
)
def test_data_errors_bugs_and_problems_needing_a_person_are_not_transient(error):
    assert not is_transient(error)


def test_a_wrapped_transient_error_is_still_transient():
    try:
        try:
            raise OSError(errno.EIO, "Input/output error")
        except OSError as cause:
            raise RuntimeError("could not archive the file") from cause
    except RuntimeError as wrapped:
        assert is_transient(wrapped)


def test_an_error_merely_raised_while_handling_a_transient_one_is_not_transient():
    try:
        try:
            raise OSError(errno.EIO, "Input/output error")
        except OSError:
            raise ValueError("bad GTIN check digit") from None
    except ValueError as error:
        assert not is_transient(error)


DBT_MODEL_FAILURE = """The dbt CLI process with command

`dbt build --vars {"as_of_date": "2025-06-30"}`

failed with exit code `1`. Check the stdout in the Dagster compute logs for the full information about the error.

Errors parsed from dbt logs:

Database Error in model fct_sales_daily (models/marts/fct_sales_daily.sql)
  Binder Error: Referenced column "units" not found in FROM clause!"""


def test_dbt_exit_code_is_read_from_the_failure_message():
    assert dbt_exit_code(DBT_MODEL_FAILURE) == 1
    assert dbt_exit_code("failed with exit code `-9`.") == -9
    assert dbt_exit_code("no code here") is None


def test_a_failed_dbt_model_or_test_is_not_retried():
    assert not dbt_failure_is_transient(1, DBT_MODEL_FAILURE)
    assert not dbt_failure_is_transient(1, "Failure in test not_null_fct_sales_daily_partner_id")


def test_dbt_killed_or_stopped_by_a_lock_or_crash_is_retried():
    assert dbt_failure_is_transient(-9, "")
    assert dbt_failure_is_transient(1, f"Runtime Error in model stg_partner_feeds__sales\n  {LOCK_MESSAGE}")
    assert dbt_failure_is_transient(2, "Encountered an error:\n  Connection reset by peer")


def test_dbt_stopped_by_a_duckdb_write_write_conflict_is_retried():
    message = "Runtime Error in model fct_inventory_daily\n  TransactionContext Error: Catalog write-write conflict"
    assert dbt_failure_is_transient(1, message)


def test_dbt_stopped_by_a_project_that_does_not_compile_is_not_retried():
    assert not dbt_failure_is_transient(2, "Encountered an error:\nCompilation Error in model fct_sales_daily")
    assert not dbt_failure_is_transient(2, "Encountered an error:\nParsing Error in models/_marts.yml")


def test_waits_double_from_the_base_up_to_the_cap_without_jitter():
    backoff = Backoff(max_retries=6, base_seconds=5, cap_seconds=30, jitter=0)
    assert [backoff.delay_before(retry) for retry in range(1, 6)] == [5, 10, 20, 30, 30]


@given(
    retry=st.integers(min_value=1, max_value=20),
    draw=st.floats(min_value=0, max_value=1, exclude_max=True),
    jitter=st.floats(min_value=0, max_value=1),
)
def test_jitter_stays_within_its_fraction_of_the_nominal_wait(retry, draw, jitter):
    backoff = Backoff(max_retries=20, base_seconds=2, cap_seconds=60, jitter=jitter)
    nominal = min(60, 2 * 2 ** (retry - 1))
    wait = backoff.delay_before(retry, uniform=lambda: draw)
    assert nominal * (1 - jitter) - 1e-9 <= wait <= nominal * (1 + jitter) + 1e-9


def test_jitter_spreads_steps_that_failed_together():
    waits = {Backoff().delay_before(1) for _ in range(20)}
    assert len(waits) > 1
    assert all(2.5 <= wait <= 7.5 for wait in waits)


def test_nonsense_settings_are_refused():
    with pytest.raises(ValueError):
        Backoff(jitter=1.5)
    with pytest.raises(ValueError):
        Backoff(max_retries=-1)
    with pytest.raises(ValueError):
        Backoff().delay_before(0)


def test_a_lost_dask_worker_or_scheduler_is_transient():
    from distributed.client import FutureCancelledError
    from distributed.comm.core import CommClosedError
    from distributed.scheduler import KilledWorker

    killed = KilledWorker("('_forecast_chunk', 3)", "tcp://127.0.0.1:40001", allowed_failures=3)
    assert is_transient(killed)
    assert is_transient(CommClosedError("in <TCP (closed) ConnectionPool.gather local=tcp://127.0.0.1:5>"))
    assert is_transient(FutureCancelledError("_forecast_chunk-1", reason="scheduler-connection-lost"))
    assert is_transient(OSError("Timed out trying to connect to tcp://10.0.0.5:8786 after 30 s"))
    wrapped = RuntimeError("forecast failed")
    wrapped.__cause__ = killed
    assert is_transient(wrapped)


def test_a_refused_dask_connection_or_an_error_inside_a_task_is_not_transient():
    from distributed.comm.core import FatalCommClosedError

    assert not is_transient(FatalCommClosedError("TLS expects a `ssl_context` argument of type ssl.SSLContext"))
    # A task's own error comes back from the worker as itself: a model error stays deterministic.
    assert not is_transient(ValueError("series 'p|L1|X': history has no rows"))
