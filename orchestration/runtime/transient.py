"""Which failures of a night are worth another attempt, and how long to wait before it. Pure: no Dagster.

A step fails for one of two kinds of reasons. Transient ones go away by themselves: another process holds the
DuckDB file lock, the landing or archive file system returns an I/O error or times out, a worker or the dbt process
is killed from outside (the OOM killer, a node being drained). Those are worth trying again after a wait that grows
exponentially, with jitter so that steps failing together do not all come back at the same moment. Deterministic
ones give the same result every time: a dbt model or test that fails, a file that cannot be parsed (ingestion
quarantines it and never raises), a bug. Retrying them only delays the alert, so they fail at once.

Anything not recognised as transient is deterministic: an unknown failure is reported, never retried blindly.
"""

from __future__ import annotations

import errno
import random
import re
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import duckdb

# OS errors a later attempt can get past. Missing files, permissions and a full disk are not among them: those need
# a person, and waiting only hides them.
TRANSIENT_ERRNOS = frozenset(
    {
        errno.EIO,
        errno.EAGAIN,
        errno.EBUSY,
        errno.EINTR,
        errno.ETIMEDOUT,
        errno.ESTALE,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ECONNREFUSED,
        errno.EPIPE,
        errno.ENETDOWN,
        errno.ENETUNREACH,
        errno.EHOSTUNREACH,
        errno.ENFILE,
        errno.EMFILE,
        errno.ENOLCK,
        errno.EDEADLK,
    }
)

# The same conditions as DuckDB (and dbt, which prints DuckDB's errors) word them; compared in lower case.
TRANSIENT_MESSAGES = (
    "could not set lock on file",
    "conflicting lock is held",
    "database is locked",
    "resource temporarily unavailable",
    "input/output error",
    "stale file handle",
    "device or resource busy",
    "interrupted system call",
    "connection reset",
    "connection timed out",
    "too many open files",
    # DuckDB's optimistic concurrency: two writers in one database touched the same rows; the later one may retry.
    "write-write conflict",
    # How distributed words a scheduler or worker it cannot reach ("Timed out trying to connect to tcp://...").
    "timed out trying to connect",
)

# Dask's distributed errors, by name rather than imported (distributed is an optional extra): a worker that died
# under a task (the scheduler gives up on it as `KilledWorker`), a connection to the scheduler or a worker that
# closed, and futures cancelled because the client lost its scheduler. Lost workers and schedulers come back (a
# node restarts, a spot instance is replaced); a connection refused for good (`FatalCommClosedError`: TLS or
# protocol mismatch) does not. Matched on the class and its bases, the first listed name deciding.
TRANSIENT_ERROR_CLASSES = frozenset(
    {
        "distributed.scheduler.KilledWorker",
        "distributed.comm.core.CommClosedError",
        "distributed.client.FutureCancelledError",
        "distributed.client.FuturesCancelledError",
    }
)
DETERMINISTIC_ERROR_CLASSES = frozenset({"distributed.comm.core.FatalCommClosedError"})

# dbt's own exit codes: 1 = it ran and some node failed (a model, a test: deterministic unless the node failed on a
# lock or I/O error), 2 = it stopped on an unhandled error (interrupted, connection lost). A negative code is the
# signal that killed it.
DBT_HANDLED_ERROR = 1
DBT_UNHANDLED_ERROR = 2
# Errors dbt reports with code 2 that a retry cannot fix: the project itself does not compile or parse.
DBT_DETERMINISTIC_MESSAGES = ("compilation error", "parsing error", "dbt_project.yml", "could not find profile")

# How deep to follow `raise ... from ...`: a wrapped I/O error is still an I/O error.
_MAX_CAUSE_DEPTH = 8


def _message_is_transient(text: str) -> bool:
    lowered = text.lower()
    return any(marker in lowered for marker in TRANSIENT_MESSAGES)


def _named_class_verdict(error: BaseException) -> bool | None:
    """True or False when the error's class (or a base) is named above, None when none is."""
    for cls in type(error).__mro__:
        name = f"{cls.__module__}.{cls.__qualname__}"
        if name in DETERMINISTIC_ERROR_CLASSES:
            return False
        if name in TRANSIENT_ERROR_CLASSES:
            return True
    return None


def _one_is_transient(error: BaseException) -> bool:
    verdict = _named_class_verdict(error)
    if verdict is not None:
        return verdict
    if isinstance(error, (TimeoutError, ConnectionError, BrokenProcessPool)):
        return True
    if isinstance(error, OSError):
        return error.errno in TRANSIENT_ERRNOS or (error.errno is None and _message_is_transient(str(error)))
    if isinstance(error, duckdb.TransactionException):
        return "conflict" in str(error).lower()
    if isinstance(error, duckdb.Error):
        # DuckDB raises IOException for a missing file or a corrupt database too: only the wording tells them apart.
        return _message_is_transient(str(error))
    return False


def is_transient(error: BaseException) -> bool:
    """Would the same step, run again in a little while on the same data, probably succeed?

    True for lock conflicts, I/O errors and time-outs on the warehouse or the file systems, a worker process that
    died, and a Dask worker or scheduler lost; also when such an error is the explicit cause (``raise ... from``)
    of the one raised. False for everything else, including data errors, missing files, permissions and a full
    disk.
    """
    seen: BaseException | None = error
    for _ in range(_MAX_CAUSE_DEPTH):
        if seen is None:
            return False
        if _one_is_transient(seen):
            return True
        seen = seen.__cause__
    return False


DBT_EXIT_CODE = re.compile(r"exit code `?(-?\d+)`?")


def dbt_exit_code(message: str) -> int | None:
    """The exit code a dbt failure message names (``failed with exit code `2` ``), or None when it names none."""
    match = DBT_EXIT_CODE.search(message)
    return int(match.group(1)) if match else None


def dbt_failure_is_transient(exit_code: int | None, error_text: str) -> bool:
    """Is a failed dbt invocation worth running again?

    Yes when dbt was killed by a signal, when it stopped on an unhandled error that is not the project failing to
    compile or parse, or when the errors it reports are DuckDB lock or I/O errors. A model or test that failed on
    its data (exit code 1 without such an error) is deterministic: the same build fails the same way.
    """
    if exit_code is not None and exit_code < 0:
        return True
    lowered = error_text.lower()
    if exit_code == DBT_UNHANDLED_ERROR:
        return not any(marker in lowered for marker in DBT_DETERMINISTIC_MESSAGES)
    return _message_is_transient(error_text)


@dataclass(frozen=True)
class Backoff:
    """Exponential back-off with jitter: before retry ``n`` wait ``base · 2^(n−1)`` seconds, capped, ± ``jitter``.

    With the defaults a step is tried five times over about two and a half minutes (5, 10, 20, 40 s, each ±50 %):
    long enough for an analyst's write connection or a file system hiccup to pass, short enough to leave the night
    time to finish.
    """

    max_retries: int = 4
    base_seconds: float = 5.0
    cap_seconds: float = 120.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.base_seconds < 0 or self.cap_seconds < 0:
            raise ValueError("retries and waits must not be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter is a fraction of the wait, between 0 and 1")

    def delay_before(self, retry: int, uniform: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number ``retry`` (1 = the first retry); ``uniform`` draws from [0, 1)."""
        if retry < 1:
            raise ValueError("retries are numbered from 1")
        nominal = min(self.cap_seconds, self.base_seconds * 2 ** (retry - 1))
        return max(0.0, nominal * (1 + self.jitter * (2 * uniform() - 1)))
