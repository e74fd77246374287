"""One BLAS thread while the forecast fits its small per-series models.

A Prophet fit solves a p×p system (p ≈ 60) a few dozen times and multiplies a few hundred rows by it: work far too
small to share between threads. numpy's OpenBLAS still hands each call to a thread per core, and on a machine whose
cores are busy (worker processes, DuckDB, other jobs) the hand-offs cost more than the arithmetic: on this project's
2-core machine the nightly forecast of 1,500 demo series ran about twice as fast on one BLAS thread, every forecast
bit for bit the same (`benchmarks/forecast_profile.py`). Worker processes run their chunks the same way.

`one_blas_thread()` sets OpenBLAS to one thread (`openblas_set_num_threads_local`, which returns the count it
replaces) and puts the previous count back after the block. The OpenBLAS numpy ships applies it process-wide, so it
is meant for a block that is the process's BLAS work at the time, as a chunk of the forecast is. Where numpy is not
linked to an OpenBLAS that has the call, it changes nothing.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

SET_THREADS = "openblas_set_num_threads_local"


@functools.cache
def openblas() -> ctypes.CDLL | None:
    """The OpenBLAS library numpy loaded (wheels ship it in `numpy.libs` or `numpy/.dylibs`), if it can set the
    thread count; None otherwise."""
    package = Path(np.__file__).parent
    for folder in (package.parent / "numpy.libs", package / ".dylibs"):
        for path in sorted(folder.glob("*openblas*")):
            try:
                library = ctypes.CDLL(str(path))
                setter = getattr(library, SET_THREADS)
            except (OSError, AttributeError):
                continue
            setter.argtypes, setter.restype = [ctypes.c_int], ctypes.c_int
            return library
    return None


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with BLAS on one thread; the previous thread count comes back after it."""
    library = openblas()
    if library is None:
        yield
        return
    setter = getattr(library, SET_THREADS)
    previous = setter(1)
    try:
        yield
    finally:
        setter(previous)
