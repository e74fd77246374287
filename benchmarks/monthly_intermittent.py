"""Monthly intermittent demand: `cmi backtest --freq M` on slow movers, against the naive and seasonal naive.

Slow movers at a supplier sell in a few months a year: each series has a chance of any sale in a month (0.15 to
0.6, drawn per series), a size when it sells (1 + Poisson with a mean drawn per series, 0.5 to 6), and for a third
of the series a December lift (twice the chance). Four years of months, deterministic by seed. The last 12 months
are held out in two origins of 6; MASE is scaled by the in-sample seasonal naive (12) on the training part.

``--intermittent`` measures what the engine would score with another model where it routes intermittent and
lumpy series to TSB: ADIDA, IMAPA or the equal blend of TSB and ADIDA (the backtest runs in this process, with
that model in TSB's place; the engine's models are still reported under TSB's name). With another model than TSB
the model choice is turned off for intermittent and lumpy series (``intermittent_choice_off``): its TSB candidate
would be that model too, so every intermittent and lumpy series gets the model asked for.

    .venv/bin/python benchmarks/monthly_intermittent.py [--series N] [--seed S] [--intermittent adida]
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

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasts.forecasting import engine, models  # noqa: E402
from forecasts.forecasting.intermittent import tsb_forecast  # noqa: E402
from orchestration.cli import main as cmi  # noqa: E402

MONTHS = 48
HORIZON = 6
ORIGINS = 2
LABELS = {"engine": "engine", "seasonal_naive": "seasonal naive (12)", "naive": "naive"}
INTERMITTENT_MODELS = {
    "tsb": tsb_forecast,
    "adida": models.adida_forecast,
    "imapa": models.imapa_forecast,
    "tsb+adida": lambda y, horizon: models.blend_forecasts(tsb_forecast(y, horizon), models.adida_forecast(y, horizon)),
}


def slow_movers(n_series: int, seed: int) -> pd.DataFrame:
    """``series_id, date, qty``: one row per series and month (zeros included), months dated by their 1st."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2021-01-01", periods=MONTHS, freq="MS")
    chance = rng.uniform(0.15, 0.6, n_series)[:, None]
    december_lift = np.where(np.arange(n_series) % 3 == 0, 2.0, 1.0)[:, None]
    chance = np.where(months.month.to_numpy()[None, :] == 12, np.minimum(chance * december_lift, 0.95), chance)
    sells = rng.random((n_series, MONTHS)) < chance
    sizes = 1 + rng.poisson(rng.uniform(0.5, 6.0, n_series)[:, None], (n_series, MONTHS))
    qty = np.where(sells, sizes, 0)
    return pd.DataFrame(
        {
            "series_id": np.repeat([f"item_{i:04d}" for i in range(n_series)], MONTHS),
            "date": np.tile(months.strftime("%Y-%m-%d"), n_series),
            "qty": qty.ravel(),
        }
    )


@contextlib.contextmanager
def intermittent_model(name: str):
    """The engine with ``INTERMITTENT_MODELS[name]`` where it routes intermittent and lumpy series to TSB; other
    than TSB, without the model choice for those classes."""
    saved_model, saved_candidates = models.tsb_forecast, engine.CHOICE_CANDIDATES
    models.tsb_forecast = INTERMITTENT_MODELS[name]
    if name != "tsb":
        engine.CHOICE_CANDIDATES = intermittent_choice_off(saved_candidates)
    try:
        yield
    finally:
        models.tsb_forecast, engine.CHOICE_CANDIDATES = saved_model, saved_candidates


def intermittent_choice_off(candidates: dict) -> dict:
    return {label: names for label, names in candidates.items() if models.TSB not in names}


def run(frame: pd.DataFrame) -> tuple[dict, float]:
    with tempfile.TemporaryDirectory(prefix="monthly-") as scratch:
        csv = Path(scratch) / "monthly.csv"
        frame.to_csv(csv, index=False)
        arguments = ["backtest", "--input", str(csv), "--horizon", str(HORIZON), "--origins", str(ORIGINS)]
        arguments += ["--freq", "M"]
        output = io.StringIO()
        started = time.perf_counter()
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(io.StringIO()):
            status = cmi(arguments)
        seconds = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"cmi backtest exited with {status}")
    return json.loads(output.getvalue()), seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--intermittent", choices=INTERMITTENT_MODELS, default="tsb")
    args = parser.parse_args(argv)
    with intermittent_model(args.intermittent):
        summary, seconds = run(slow_movers(args.series, args.seed))
    print(
        f"Monthly slow movers, {summary['series']} series, {summary['origins']} origins x {summary['horizon']} "
        f"months ({summary['periods_scored']} series-months scored). Engine models: {summary['engine_models']}. "
        f"Intermittent and lumpy series: {args.intermittent}. Ran in {seconds:.1f} s."
    )
    print()
    print("| method | WAPE | bias | MASE |")
    print("|---|---:|---:|---:|")
    for method, label in LABELS.items():
        scores = summary["methods"][method]
        print(f"| {label} | {scores['wape']:.1%} | {scores['bias']:+.1%} | {scores['mase']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
