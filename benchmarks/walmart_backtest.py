"""Walmart weekly store sales: the fixed evaluation protocol of /work/shared/datasets/walmart_weekly/README.md,
run through `cmi backtest` itself.

One series per store (45), target Weekly_Sales, weekly; the last 26 weeks are held out and forecast from the
weeks before them in two rolling origins of 13 weeks (horizon 13). MASE is scaled by the in-sample seasonal
naive (season 52) on the training part. Holiday_Flag is a regressor: the holiday weeks are known in advance.
The seasonal naive (52) and the naive forecast are measured in the same run.

The data stays in ../shared: this script writes the CLI's input format to a temporary file, calls
`orchestration.cli.main(["backtest", ...])` and prints its JSON as a markdown table.

    .venv/bin/python benchmarks/walmart_backtest.py [--per-store] [--data PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestration.cli import main as cmi  # noqa: E402

DEFAULT_DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "datasets" / "walmart_weekly" / "walmart_45stores_weekly.csv"
)
HORIZON = 13
ORIGINS = 2
SEASON = 52
LABELS = {"engine": "engine", "seasonal_naive": "seasonal naive (52)", "naive": "naive"}


def to_cli_input(data: Path, target: Path) -> None:
    """Walmart's columns to `series_id,date,qty,Holiday_Flag` with ISO dates (the file has dd/mm/yy)."""
    raw = pd.read_csv(data)
    frame = pd.DataFrame(
        {
            "series_id": "store_" + raw["Store"].astype(str).str.zfill(2),
            "date": pd.to_datetime(raw["Date"], format="%d/%m/%y").dt.strftime("%Y-%m-%d"),
            "qty": raw["Weekly_Sales"],
            "Holiday_Flag": raw["Holiday_Flag"],
        }
    )
    frame.sort_values(["series_id", "date"]).to_csv(target, index=False)


def run_protocol(data: Path) -> tuple[dict, float]:
    """The backtest's JSON summary (with per-store metrics) and the wall-clock seconds it took."""
    with tempfile.TemporaryDirectory(prefix="walmart-") as scratch:
        csv = Path(scratch) / "walmart.csv"
        to_cli_input(data, csv)
        arguments = ["backtest", "--input", str(csv), "--horizon", str(HORIZON), "--origins", str(ORIGINS)]
        arguments += ["--freq", "W", "--season", str(SEASON), "--per-series"]
        output = io.StringIO()
        started = time.perf_counter()
        with contextlib.redirect_stdout(output):
            status = cmi(arguments)
        seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"cmi backtest exited with {status}")
    return json.loads(output.getvalue()), seconds


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2%}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="walmart_45stores_weekly.csv")
    parser.add_argument("--per-store", action="store_true", help="also print WAPE per store and method")
    args = parser.parse_args(argv)

    summary, seconds = run_protocol(args.data)
    print(
        f"Walmart weekly, {summary['series']} stores, {summary['origins']} origins x {summary['horizon']} weeks "
        f"({summary['periods_scored']} store-weeks scored), MASE scale: seasonal naive {summary['season']} "
        f"on the training part. Engine models: {summary['engine_models']}. "
        f"Ran in {seconds:.1f} s."
    )
    print()
    print("| method | WAPE | bias | MASE | p90 coverage |")
    print("|---|---:|---:|---:|---:|")
    for method, label in LABELS.items():
        scores = summary["methods"][method]
        print(
            f"| {label} | {_percent(scores['wape'])} | {_percent(scores['bias'])} | {scores['mase']:.3f} "
            f"| {_percent(scores['coverage_p90'])} |"
        )
    if args.per_store:
        print()
        print("| store | " + " | ".join(f"{label} WAPE" for label in LABELS.values()) + " |")
        print("|---|" + "---:|" * len(LABELS))
        for store, methods in summary["by_series"].items():
            print(f"| {store} | " + " | ".join(_percent(methods[method]["wape"]) for method in LABELS) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
