"""Does choosing a model per series by backtest beat the engine's fixed blend? Walmart's protocol says no.

On the fixed protocol of benchmarks/walmart_backtest.py (45 stores, last 26 weeks held out in 2 origins × 13 weeks,
Holiday_Flag as a regressor), each store's candidates are scored on three inner origins of 13 weeks *before* each
outer origin (nothing of the held-out weeks is seen), and then:

- ``selected``: the candidate with the least inner absolute error forecasts the outer window;
- ``inverse-error weights``: Prophet and the level-adjusted seasonal naive combined with weights 1 / inner error;
- ``engine``: what the engine does today for weekly series with that much history (the two, equal weights);
- ``class weight``: the same two with one weight for all stores, the one of 0, 0.1, ..., 1 with the least inner
  absolute error pooled over the stores (the blend's weight learnt on the rolling backtest, per class);
- ``best weight in hindsight``: the one weight with the least error on the held-out weeks themselves (not a
  forecast: the most any single weight could give).

Candidates: Prophet (the engine's estimate, 20 yearly terms and the holiday flag), the seasonal naive moved to the
last quarter's level, the plain seasonal naive (52), and the three's equal blend. WAPE over all held-out weeks.

    .venv/bin/python benchmarks/walmart_model_choice.py [--data PATH]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasts.forecasting import models  # noqa: E402
from forecasts.forecasting.engine import RegularSeries, forecast_regular, regular_series  # noqa: E402

DEFAULT_DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "datasets" / "walmart_weekly" / "walmart_45stores_weekly.csv"
)
HORIZON, ORIGINS, INNER_ORIGINS, SEASON, LEVEL_WINDOW = 13, 2, 3, 52, 13
WEIGHTS = np.linspace(0.0, 1.0, 11)


def weighted_errors(pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """Absolute error summed over ``(prophet, seasonal_level, actual)`` windows, for each weight on Prophet."""
    return np.array([sum(float(np.abs(w * p + (1 - w) * s - a).sum()) for p, s, a in pairs) for w in WEIGHTS])


def candidates(series: RegularSeries, cut: int) -> dict[str, np.ndarray]:
    """Each candidate's p50 for the ``HORIZON`` periods after ``cut``, from the periods before it."""
    days, y, x = series.days[:cut], series.y[:cut], series.regressors[:cut]
    future_days, future_x = series.days[cut : cut + HORIZON], series.regressors[cut : cut + HORIZON]
    engine, *_ = forecast_regular(RegularSeries(days, y, x), HORIZON, "W", None, future_x)
    prophet = models.prophet_fit_predict(days, y, future_days, freq="W", regressors=x, future_regressors=future_x)
    level = models.seasonal_level_forecast(y, HORIZON, SEASON, LEVEL_WINDOW)
    naive = models.seasonal_naive_forecast(y, HORIZON, SEASON)
    return {
        "engine": engine.p50,
        "prophet": prophet.p50,
        "seasonal_level": level.p50,
        "seasonal_naive": naive.p50,
        "blend_of_three": models.blend_forecasts(prophet, level, naive).p50,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    raw = pd.read_csv(args.data)
    raw["date"] = pd.to_datetime(raw["Date"], format="%d/%m/%y")
    started = time.perf_counter()
    errors: dict[str, float] = {}
    total = 0.0
    inner_pairs: dict[int, list] = {origin: [] for origin in range(ORIGINS)}
    outer_pairs: dict[int, list] = {origin: [] for origin in range(ORIGINS)}
    for _, store in raw.sort_values("date").groupby("Store"):
        series = regular_series(
            models.day_numbers(store["date"]),
            store["Weekly_Sales"].to_numpy(dtype=float),
            "W",
            regressors=store[["Holiday_Flag"]].to_numpy(dtype=float),
            regressor_names=["Holiday_Flag"],
        )
        for origin in range(ORIGINS):
            cut = series.y.size - (ORIGINS - origin) * HORIZON
            inner: dict[str, float] = {}
            for inner_origin in range(INNER_ORIGINS):
                inner_cut = cut - (INNER_ORIGINS - inner_origin) * HORIZON
                actual = series.y[inner_cut : inner_cut + HORIZON]
                inner_p50 = candidates(series, inner_cut)
                for name, p50 in inner_p50.items():
                    inner[name] = inner.get(name, 0.0) + float(np.abs(p50 - actual).sum())
                inner_pairs[origin].append((inner_p50["prophet"], inner_p50["seasonal_level"], actual))
            outer = candidates(series, cut)
            actual = series.y[cut : cut + HORIZON]
            outer_pairs[origin].append((outer["prophet"], outer["seasonal_level"], actual))
            choices = {name: p50 for name, p50 in outer.items() if name != "engine"}
            outer["selected"] = choices[min(choices, key=inner.get)]
            weights = {name: 1.0 / inner[name] for name in ("prophet", "seasonal_level")}
            outer["inverse-error weights"] = sum(w * outer[name] for name, w in weights.items()) / sum(weights.values())
            for name, p50 in outer.items():
                errors[name] = errors.get(name, 0.0) + float(np.abs(p50 - actual).sum())
            total += float(actual.sum())
    learnt, hindsight = [], weighted_errors([pair for pairs in outer_pairs.values() for pair in pairs])
    for origin in range(ORIGINS):
        best = int(np.argmin(weighted_errors(inner_pairs[origin])))
        learnt.append(f"{WEIGHTS[best]:.1f}")
        errors["class weight"] = errors.get("class weight", 0.0) + weighted_errors(outer_pairs[origin])[best]
    errors[f"best weight in hindsight ({WEIGHTS[int(np.argmin(hindsight))]:.1f})"] = float(hindsight.min())
    errors[f"class weight ({', '.join(learnt)} by origin)"] = errors.pop("class weight")
    print(f"Walmart weekly, 45 stores, {ORIGINS} origins x {HORIZON} weeks; {time.perf_counter() - started:.1f} s")
    print()
    print("| forecast | WAPE |")
    print("|---|---:|")
    for name, error in sorted(errors.items(), key=lambda item: item[1]):
        print(f"| {name} | {error / total:.2%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
