"""The ``prophet`` package's own pieces, for where its exact behaviour is wanted: the package itself (the reference
the tests and the throughput benchmark compare against) and its compiled Stan program, which
``prophet_model.estimate_prophet(..., optimizer="stan")`` runs through CmdStan as the package does. The engine's
default fit needs neither.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import subprocess
import tempfile
from pathlib import Path
from types import ModuleType

import numpy as np

# Prophet optimises small data with Newton's method and larger data with L-BFGS, falling back to Newton when
# L-BFGS fails; the Stan path keeps the same rule.
NEWTON_BELOW_PERIODS = 100
STAN_TIMEOUT_SECONDS = 300
STAN_SEED = 20240101


@functools.cache
def prophet_package() -> ModuleType:
    """Import the ``prophet`` package once per process with its and cmdstanpy's chatter turned down.

    The engine does not need the package's Python code (see ``prophet_model``); tests and the throughput
    benchmark use it as the reference. Prophet logs about plotly while importing (so ``prophet.plot`` is
    quietened first) and sets its own logger to INFO on import (so ``prophet`` is quietened after). cmdstanpy
    installs an INFO handler and lowers its logger to DEBUG the first time it logs, unless the logger already
    has a handler; a NullHandler keeps the level set here. Errors still propagate to the application's handlers.
    """
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
    import prophet

    logging.getLogger("prophet").setLevel(logging.ERROR)
    cmdstanpy_logger = logging.getLogger("cmdstanpy")
    cmdstanpy_logger.setLevel(logging.ERROR)
    if not any(isinstance(handler, logging.NullHandler) for handler in cmdstanpy_logger.handlers):
        cmdstanpy_logger.addHandler(logging.NullHandler())
    return prophet


@functools.cache
def _stan_executable() -> str:
    """Path of the Stan program compiled into the ``prophet`` package (found without importing the package)."""
    spec = importlib.util.find_spec("prophet")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the prophet package is not installed")
    executable = Path(next(iter(spec.submodule_search_locations))) / "stan_model" / "prophet_model.bin"
    if not executable.exists():
        raise RuntimeError(f"Prophet's Stan model is missing: {executable}")
    return str(executable)


def _stan_json(values: dict[str, object]) -> str:
    return json.dumps(
        {key: value.tolist() if isinstance(value, np.ndarray) else value for key, value in values.items()}
    )


def _stan_optimize(data: dict[str, object], init: dict[str, object], algorithm: str) -> dict[str, float]:
    """Run CmdStan's optimiser on Prophet's Stan program and return the estimate, one entry per scalar
    (``delta.1``, ``beta.3``, ...). Raises RuntimeError when the optimiser does not finish normally."""
    with tempfile.TemporaryDirectory(prefix="cmi-prophet-") as scratch:
        folder = Path(scratch)
        (folder / "data.json").write_text(_stan_json(data))
        (folder / "init.json").write_text(_stan_json(init))
        command = [
            _stan_executable(),
            "optimize",
            f"algorithm={algorithm}",
            "iter=10000",
            "data",
            f"file={folder / 'data.json'}",
            f"init={folder / 'init.json'}",
            "random",
            f"seed={STAN_SEED}",
            "output",
            f"file={folder / 'fit.csv'}",
            "refresh=0",
            "sig_figs=12",
        ]
        finished = subprocess.run(command, capture_output=True, text=True, timeout=STAN_TIMEOUT_SECONDS, check=False)
        if finished.returncode != 0:
            reason = (finished.stderr.strip() or finished.stdout.strip()).splitlines()
            raise RuntimeError(f"Stan {algorithm} optimiser failed: {reason[-1] if reason else finished.returncode}")
        lines = [line for line in (folder / "fit.csv").read_text().splitlines() if line and not line.startswith("#")]
    names, values = lines[0].split(","), lines[1].split(",")
    return {name: float(value) for name, value in zip(names, values, strict=True)}


def stan_estimate(data: dict[str, object], init: dict[str, object]) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Prophet's own fit: CmdStan's optimiser from Prophet's initial values (Newton for small data, else L-BFGS
    with a Newton retry)."""
    algorithm = "newton" if int(data["T"]) < NEWTON_BELOW_PERIODS else "lbfgs"
    try:
        estimate = _stan_optimize(data, init, algorithm)
    except RuntimeError:
        if algorithm == "newton":
            raise
        estimate = _stan_optimize(data, init, "newton")
    delta = np.asarray([estimate[f"delta.{i}"] for i in range(1, int(data["S"]) + 1)])
    beta = np.asarray([estimate[f"beta.{i}"] for i in range(1, int(data["K"]) + 1)])
    return estimate["k"], estimate["m"], delta, beta
