"""Measure this tree against a baseline tree in the same run: each measurement a fresh child process of one tree.

The baseline tree is another checkout of the project (``git archive <commit> | tar -x -C DIR``), so a ratio compares
the same inputs on the same interpreter and machine. A child is a Python source run with ``-c``; its first argument
is the tree to import the project from (it puts it first on ``sys.path``), and it prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def add_baseline_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--baseline", type=Path, required=True, help="a checkout of the baseline commit")


def trees(baseline: Path) -> dict[str, Path]:
    """The trees a run compares, baseline first, by the names the scripts print."""
    return {"baseline": baseline.resolve(), "this tree": PROJECT_ROOT}


def run_child(child: str, tree: Path, *arguments: str) -> dict:
    """The JSON the child printed, run on ``tree`` with ``arguments``; a failed child stops the benchmark."""
    done = subprocess.run(
        [sys.executable, "-c", child, str(tree), *arguments], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{tree} {' '.join(arguments[:1])}: {done.stderr[-2000:]}")
    return json.loads(done.stdout)
