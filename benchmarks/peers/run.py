"""The engine against the best open-source peers, on the same data, origins and horizons, in one run.

Peers: statsforecast's AutoETS, its intermittent models (CrostonSBA, CrostonOptimized, TSB, ADIDA) and its
SeasonalNaive and Naive, and a global LightGBM model on lag and date features through mlforecast
(benchmarks/peers/peer_models.py). Those libraries cap pandas below 3, so they run in an environment of their own:

    **This script creates benchmarks/peers/.venv with the machine's Python 3.11 and installs the exact versions of
    benchmarks/peers/requirements.txt into it from PyPI** (with the project's uv at .tools/bin/uv when present, else
    pip; no Python is downloaded). That install is the only download; it happens on the first run and whenever the
    requirements file changes. The project's own environment is not touched.

Data sets (nothing is copied into the repository; inputs are written to a temporary folder):

1. ``walmart``: the fixed protocol of ../shared/datasets/walmart_weekly (45 stores, the last 26 weeks held out,
   2 rolling origins × 13 weeks, MASE scaled by the in-sample seasonal naive 52 on the training part), the input
   benchmarks/walmart_backtest.py gives ``cmi backtest``; Holiday_Flag is a regressor.
2. ``demo``: the demo's daily sales (3 partners, 192 location × product series, two years, chain promotions,
   stock-outs), simulated in memory by the demo generator's own functions (no pipeline run): the last 56 days held
   out, 2 origins × 28 days, season 7; the promotion flag is a regressor (promotions are planned ahead); stock-out days
   are censored and not scored.
3. ``synthetic``: benchmarks/synthetic_sales.py's warehouse at 200 series (smooth, intermittent, lumpy and short
   series, stock-out days, no promotions), cut as the demo is.
4. ``monthly``: intermittent spare-parts demand, simulated daily (seeded, below) and summed to months: 48 months,
   the last 12 held out, 2 origins × 6 months, MASE scaled by the in-sample naive (one month) on the training part.
   Its MASE scale is not the one ``cmi backtest --freq M`` uses (the 12-month seasonal naive), so the engine's TSB
   model (the one ``--freq M`` routes intermittent monthly series to), its ADIDA and IMAPA, their equal blends with
   TSB, and its baselines are called directly on the monthly arrays rather than through ``run_backtest``; so is the
   engine itself (``forecast_many``, freq M), with its fixed routes and with its model choice by demand class.

The engine runs in this process (the project's environment) through ``run_backtest``, the code ``cmi backtest``
runs, with one job; the peers run in a subprocess of the peers' environment, one thread. Every method is scored here
by the same code (WAPE, bias and MASE as ``forecasts.forecasting.backtest``), against the same actuals and MASE
scales; the engine and its baselines are scored both by ``summarise`` and by this script as a check, and
statsforecast's SeasonalNaive must forecast exactly what the engine's ``seasonal_naive_forecast`` forecasts on the
same input (``check_anchor``). Seconds are wall-clock for all origins of a data set, measured in this
run; the peers' exclude the interpreter and library imports.

    .venv/bin/python benchmarks/peers/run.py [--datasets walmart,demo,synthetic,monthly] [--walmart PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from walmart_backtest import DEFAULT_DATA as WALMART_DATA  # noqa: E402
from walmart_backtest import to_cli_input  # noqa: E402

from forecasts.forecasting import metrics, models  # noqa: E402
from forecasts.forecasting.backtest import mase_scale, run_backtest, summarise  # noqa: E402
from forecasts.forecasting.engine import forecast_many  # noqa: E402
from orchestration.commands.forecasting import read_series_csv  # noqa: E402

HERE = Path(__file__).resolve().parent
PEERS_VENV = HERE / ".venv"
REQUIREMENTS = HERE / "requirements.txt"
PEER_SCRIPT = HERE / "peer_models.py"
UV = ROOT / ".tools" / "bin" / "uv"
DATASETS = ("walmart", "demo", "synthetic", "monthly")
PEER_METHODS = ("AutoETS", "CrostonSBA", "CrostonOptimized", "TSB", "ADIDA", "LightGBM", "SeasonalNaive", "Naive")
DEMO_END = date(2026, 11, 29)


@dataclass(frozen=True)
class DataSet:
    """A benchmark input: the series CSV and how it is cut and scored."""

    name: str
    csv: Path
    engine_freq: str | None  # the engine's period code, None where the engine has no such frequency
    peer_freq: str  # the pandas frequency the peers are given
    horizon: int
    origins: int
    season: int  # the baselines' season
    mase_season: int  # the MASE scale's season
    lags: str


def ensure_peer_env() -> Path:
    """The peers' Python, creating the environment and installing the pinned requirements when they changed."""
    python = PEERS_VENV / "bin" / "python"
    stamp = PEERS_VENV / ".requirements-sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    if PEERS_VENV.exists():
        shutil.rmtree(PEERS_VENV)
    environment = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    print(f"creating {PEERS_VENV.relative_to(ROOT)} and installing {REQUIREMENTS.name} from PyPI", file=sys.stderr)
    if UV.exists():
        create = [str(UV), "venv", "--quiet", "--python", "python3.11", str(PEERS_VENV)]
        subprocess.run(create, check=True, env=environment)
        install = [str(UV), "pip", "install", "--quiet", "--python", str(python), "--no-deps", "-r", str(REQUIREMENTS)]
        check = [str(UV), "pip", "check", "--python", str(python)]
    else:
        subprocess.run(["python3.11", "-m", "venv", str(PEERS_VENV)], check=True)
        install = [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "-r", str(REQUIREMENTS)]
        check = [str(python), "-m", "pip", "check"]
    subprocess.run(install, check=True, env=environment)
    subprocess.run(check, check=True, env=environment)
    stamp.write_text(wanted)
    return python


# ---- data sets -------------------------------------------------------------------------------------------------


def walmart_csv(target: Path, data: Path) -> Path:
    to_cli_input(data, target)
    return target


def demo_csv(target: Path) -> Path:
    """The demo partners' daily sales as ``series_id,date,qty,censored,promo_flag``, simulated in memory."""
    from assets.feeds.demo.demand import FORECAST_HORIZON_WEEKS
    from assets.feeds.demo.simulation import simulate_partner
    from assets.feeds.demo.world import build_catalogue
    from assets.feeds.partner_config import load_partner_configs

    days = 730
    start = DEMO_END - timedelta(days=days - 1)
    calendar = pd.date_range(start, periods=days + 7 * (FORECAST_HORIZON_WEEKS + 1), freq="D")
    catalogue = build_catalogue(7, "full")
    frames = []
    for partner_id, config in sorted(load_partner_configs(ROOT / "data" / "partners").items()):
        sales = simulate_partner(config, catalogue, calendar, days, 7, "full").sales
        frames.append(
            pd.DataFrame(
                {
                    "series_id": partner_id + "|" + sales["location_id"] + "|" + sales["product_ref"],
                    "date": pd.to_datetime(sales["period_start"]).dt.strftime("%Y-%m-%d"),
                    "qty": sales["units_sold"].astype(float),
                    "censored": np.where(sales["units_out_of_stock"] > 0, "true", "false"),
                    "promo_flag": sales["promo_flag"].astype(int),
                }
            )
        )
    pd.concat(frames).sort_values(["series_id", "date"]).to_csv(target, index=False)
    return target


def synthetic_csv(target: Path, scratch: Path, n_series: int = 200) -> Path:
    """benchmarks/synthetic_sales.py's warehouse (smooth, intermittent, lumpy and short series, 2 % stock-out days)
    as ``series_id,date,qty,censored``: two years of daily sales ending on the same date as the demo's."""
    import duckdb
    from synthetic_sales import build_sales_warehouse

    warehouse = build_sales_warehouse(scratch / "synthetic.duckdb", n_series, DEMO_END)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        conn.execute(
            f"""
            copy (
                select partner_id || '|' || location_id || '|' || product_id as series_id,
                       strftime(sales_date, '%Y-%m-%d') as date, units_sold as qty,
                       case when is_stockout then 'true' else 'false' end as censored
                from marts.fct_sales_daily order by series_id, date
            ) to '{target.as_posix()}' (header, delimiter ',')
            """
        )
    return target


def monthly_intermittent_csv(target: Path, n_series: int = 300, seed: int = 11) -> Path:
    """Spare-parts demand: daily orders at a low, drifting rate (0.2 %–4 % of days), sizes of 1 to about 10 units,
    a quarter of the parts going obsolete (demand stops) and a sixth phased in late; summed to calendar months.
    Parts with fewer than two months of demand before the held-out year are dropped (nothing to forecast from)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2022-01-01", "2025-12-31", freq="D")
    n_days = len(days)
    month_index = days.to_period("M")
    rows = []
    for series in range(n_series):
        rate = np.exp(rng.uniform(np.log(0.002), np.log(0.04)))
        drift = np.exp(np.linspace(0.0, rng.normal(0.0, 0.6), n_days))
        active = np.ones(n_days, dtype=bool)
        lifecycle = rng.random()
        if lifecycle < 0.25:
            active[int(rng.uniform(0.4, 0.95) * n_days) :] = False
        elif lifecycle < 0.42:
            active[: int(rng.uniform(0.05, 0.5) * n_days)] = False
        orders = rng.random(n_days) < rate * drift * active
        mean_size = rng.uniform(1.0, 6.0)
        sizes = 1 + rng.negative_binomial(1.5, 1.5 / (1.5 + mean_size - 1.0), n_days)
        monthly = pd.Series(np.where(orders, sizes, 0), index=month_index).groupby(level=0).sum()
        if (monthly.iloc[:-12] > 0).sum() < 2:
            continue
        rows.append(
            pd.DataFrame(
                {
                    "series_id": f"part_{series:03d}",
                    "date": monthly.index.to_timestamp().strftime("%Y-%m-%d"),
                    "qty": monthly.to_numpy(dtype=float),
                }
            )
        )
    pd.concat(rows).to_csv(target, index=False)
    return target


# ---- the engine ------------------------------------------------------------------------------------------------


def engine_backtest(dataset: DataSet, use_regressors: bool = True) -> tuple[pd.DataFrame, pd.Series, dict, float]:
    """The engine and its baselines through ``run_backtest``: forecasts (method, series_id, origin, date, actual,
    p50), MASE scales, the summary ``cmi backtest`` prints, and seconds."""
    frame, regressors = read_series_csv(dataset.csv)
    started = time.perf_counter()
    backtest = run_backtest(
        frame,
        dataset.horizon,
        dataset.origins,
        dataset.engine_freq,
        dataset.season,
        regressors=regressors if use_regressors else (),
        n_jobs=1,
    )
    seconds = time.perf_counter() - started
    return backtest.forecasts, backtest.scales, summarise(backtest), seconds


def engine_monthly(dataset: DataSet) -> tuple[pd.DataFrame, pd.Series, dict[str, float]]:
    """The engine's models called directly on monthly arrays, cut as ``run_backtest`` cuts: TSB (the engine's model
    for intermittent and lumpy demand), ADIDA, IMAPA, the equal blends of TSB with each, the moving average of a
    year, the naive and the seasonal naive."""
    frame = pd.read_csv(dataset.csv, parse_dates=["date"]).sort_values(["series_id", "date"])
    rules = {
        "engine TSB": lambda y: models.tsb_forecast(y, dataset.horizon),
        "engine ADIDA": lambda y: models.adida_forecast(y, dataset.horizon),
        "engine IMAPA": lambda y: models.imapa_forecast(y, dataset.horizon),
        "engine TSB + ADIDA": lambda y: models.blend_forecasts(
            models.tsb_forecast(y, dataset.horizon), models.adida_forecast(y, dataset.horizon)
        ),
        "engine TSB + IMAPA": lambda y: models.blend_forecasts(
            models.tsb_forecast(y, dataset.horizon), models.imapa_forecast(y, dataset.horizon)
        ),
        "engine moving average (12)": lambda y: models.moving_average_forecast(y, dataset.horizon, 12),
        "seasonal_naive": lambda y: models.seasonal_naive_forecast(y, dataset.horizon, dataset.season),
        "naive": lambda y: models.naive_forecast(y, dataset.horizon),
    }
    seconds = dict.fromkeys(rules, 0.0)
    parts, scales = [], {}
    for series_id, rows in frame.groupby("series_id", sort=True):
        y = rows["qty"].to_numpy(dtype=float)
        dates = rows["date"].to_numpy()
        held_out = dataset.origins * dataset.horizon
        scales[series_id] = mase_scale(y[: y.size - held_out], dataset.mase_season)
        for origin in range(dataset.origins):
            cut = y.size - (dataset.origins - origin) * dataset.horizon
            window = slice(cut, cut + dataset.horizon)
            for method, rule in rules.items():
                started = time.perf_counter()
                p50 = rule(y[:cut]).p50
                seconds[method] += time.perf_counter() - started
                parts.append(
                    pd.DataFrame(
                        {
                            "method": method,
                            "series_id": series_id,
                            "origin": dates[cut - 1],
                            "date": dates[window],
                            "actual": y[window],
                            "p50": p50,
                        }
                    )
                )
    for method, choose_by_class in (("engine, fixed routes", False), ("engine, model choice by class", True)):
        started = time.perf_counter()
        parts += engine_monthly_routed(frame, dataset, method, choose_by_class)
        seconds[method] = time.perf_counter() - started
    return pd.concat(parts, ignore_index=True), pd.Series(scales, dtype=float), seconds


def engine_monthly_routed(
    frame: pd.DataFrame, dataset: DataSet, method: str, choose_by_class: bool
) -> list[pd.DataFrame]:
    """The engine itself (``forecast_many``, freq M: classes, routes and, with ``choose_by_class``, the model choice
    of ``model_choice``) on each origin's training months, cut as ``run_backtest`` cuts."""
    position = frame.groupby("series_id").cumcount()
    length = frame.groupby("series_id")["qty"].transform("size")
    parts = []
    for origin in range(dataset.origins):
        cut = length - (dataset.origins - origin) * dataset.horizon
        train = frame[position < cut]
        window = frame[(position >= cut) & (position < cut + dataset.horizon)]
        forecast = forecast_many(train, dataset.horizon, "M", choose_by_class=choose_by_class)
        origins = train.groupby("series_id")["date"].max().rename("origin")
        scored = window.rename(columns={"qty": "actual"}).merge(forecast[["series_id", "date", "p50"]])
        parts.append(scored.join(origins, on="series_id").assign(method=method))
    return parts


# ---- the peers -------------------------------------------------------------------------------------------------


def peer_forecasts(python: Path, dataset: DataSet, scratch: Path) -> tuple[pd.DataFrame, dict[str, float]]:
    output, timings = scratch / f"{dataset.name}-peers.csv", scratch / f"{dataset.name}-timings.json"
    arguments = [str(python), str(PEER_SCRIPT), "--input", str(dataset.csv), "--freq", dataset.peer_freq]
    arguments += ["--horizon", str(dataset.horizon), "--origins", str(dataset.origins)]
    arguments += ["--season", str(dataset.season), "--lags", dataset.lags]
    arguments += ["--output", str(output), "--timings", str(timings)]
    subprocess.run(arguments, check=True)
    forecasts = pd.read_csv(output, parse_dates=["origin", "date"])
    return forecasts, json.loads(timings.read_text())


# ---- scoring ---------------------------------------------------------------------------------------------------


def score(forecasts: pd.DataFrame, scales: pd.Series) -> dict[str, float]:
    """WAPE and bias pooled over all scored periods, MASE the mean of the series' MASE, as ``backtest._scores``."""
    actual, p50 = forecasts["actual"].to_numpy(dtype=float), forecasts["p50"].to_numpy(dtype=float)
    known = forecasts[forecasts["actual"].notna()]
    per_series = [
        np.abs(rows["actual"] - rows["p50"]).mean() / scales.get(series_id, np.nan)
        for series_id, rows in known.groupby("series_id")
    ]
    per_series = [value for value in per_series if np.isfinite(value)]
    return {
        "wape": metrics.wape(actual, p50),
        "bias": metrics.bias(actual, p50),
        "mase": float(np.mean(per_series)) if per_series else float("nan"),
    }


def with_actuals(peers: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """The peers' forecasts on exactly the engine's scored rows (same series, origins and dates, same actuals)."""
    keys = reference[["series_id", "origin", "date", "actual"]]
    keys = keys.assign(origin=pd.to_datetime(keys["origin"]), date=pd.to_datetime(keys["date"]))
    merged = keys.merge(peers, on=["series_id", "origin", "date"], how="left")
    missing = merged[merged["p50"].isna()]
    if not missing.empty:
        raise SystemExit(f"{missing['method'].nunique()} peer methods lack {len(missing)} of the engine's rows")
    return merged


def check_anchor(dataset: DataSet, anchor: pd.DataFrame) -> None:
    """statsforecast's SeasonalNaive must give, period by period, what the engine's ``seasonal_naive_forecast`` gives
    on the same input. The input is the peers' one (stock-out days as the units sold): on those days the engine's own
    baseline, which knows they are censored, takes the same weekday a season earlier instead, so only there may the
    two baselines' scores differ."""
    frame = pd.read_csv(dataset.csv, parse_dates=["date"]).sort_values(["series_id", "date"])
    expected = []
    for series_id, rows in frame.groupby("series_id", sort=True):
        y = rows["qty"].fillna(0.0).clip(lower=0.0).to_numpy(dtype=float)
        dates = rows["date"].to_numpy()
        for origin in range(dataset.origins):
            cut = y.size - (dataset.origins - origin) * dataset.horizon
            if cut < 1:
                continue
            p50 = models.seasonal_naive_forecast(y[:cut], dataset.horizon, dataset.season).p50
            window = dates[cut : cut + dataset.horizon]
            expected.append(pd.DataFrame({"series_id": series_id, "date": window, "expected": p50}))
    merged = pd.concat(expected).merge(anchor, on=["series_id", "date"], how="outer")
    if merged[["expected", "p50"]].isna().any().any() or not np.allclose(merged["expected"], merged["p50"]):
        raise SystemExit(f"{dataset.name}: statsforecast's SeasonalNaive differs from the engine's seasonal naive")


def benchmark(dataset: DataSet, python: Path, scratch: Path) -> tuple[list[dict], str]:
    """Rows of the result table (method, WAPE, bias, MASE, seconds) and a line describing the run."""
    rows = []
    if dataset.engine_freq is not None:
        forecasts, scales, summary, engine_seconds = engine_backtest(dataset)
        forecasts = forecasts[["method", "series_id", "origin", "date", "actual", "p50"]]
        reference = forecasts[forecasts["method"] == "engine"]
        for method, label in (("engine", "engine"), ("seasonal_naive", None), ("naive", None)):
            scores = score(forecasts[forecasts["method"] == method], scales)
            expected = summary["methods"][method]
            for key in ("wape", "bias", "mase"):
                if not np.isclose(scores[key], expected[key], atol=1e-5):
                    raise SystemExit(f"{dataset.name}: {method} {key} scored {scores[key]} here, {expected[key]} there")
            seconds = engine_seconds if label else None
            rows.append({"method": label or f"{method} (engine's)", **scores, "seconds": seconds})
        note = f"engine models: {summary['engine_models']}"
        regressors = read_series_csv(dataset.csv)[1]
        if regressors:
            plain, _, plain_summary, plain_seconds = engine_backtest(dataset, use_regressors=False)
            scores = {key: plain_summary["methods"]["engine"][key] for key in ("wape", "bias", "mase")}
            label = f"engine without {', '.join(regressors)}"
            rows.insert(1, {"method": label, **scores, "seconds": plain_seconds})
            note += f"; regressors: {', '.join(regressors)} (the engine and LightGBM)"
    else:
        forecasts, scales, seconds = engine_monthly(dataset)
        reference = forecasts[forecasts["method"] == "naive"]
        for method, spent in seconds.items():
            label = method if method.startswith("engine") else f"{method} (engine's)"
            rows.append({"method": label, **score(forecasts[forecasts["method"] == method], scales), "seconds": spent})
        note = "engine models called directly on monthly arrays (MASE scaled by the one-month naive)"

    peers, timings = peer_forecasts(python, dataset, scratch)
    for method in PEER_METHODS:
        scored = with_actuals(peers[peers["method"] == method].drop(columns="method"), reference)
        rows.append({"method": f"{method} (peer)", **score(scored, scales), "seconds": timings.get(method)})

    check_anchor(dataset, peers[peers["method"] == "SeasonalNaive"])
    series = reference["series_id"].nunique()
    periods = int(reference["actual"].notna().sum())
    zeros = (pd.read_csv(dataset.csv, usecols=["qty"])["qty"] == 0).mean()
    header = (
        f"{dataset.name}: {series} series ({zeros:.0%} of periods zero), "
        f"{dataset.origins} origins × {dataset.horizon} periods "
        f"({periods} periods scored), season {dataset.season}, MASE scale season {dataset.mase_season}; {note}"
    )
    return rows, header


def markdown(rows: list[dict]) -> str:
    def percent(value: float | None) -> str:
        return "n/a" if value is None or not np.isfinite(value) else f"{value:.2%}"

    lines = ["| method | WAPE | bias | MASE | seconds |", "|---|---:|---:|---:|---:|"]
    for row in rows:
        seconds = "" if row["seconds"] is None else f"{row['seconds']:.2f}"
        lines.append(
            f"| {row['method']} | {percent(row['wape'])} | {percent(row['bias'])} | {row['mase']:.3f} | {seconds} |"
        )
    return "\n".join(lines)


def datasets(names: list[str], scratch: Path, walmart: Path) -> list[DataSet]:
    built = []
    for name in names:
        if name == "walmart":
            csv = walmart_csv(scratch / "walmart.csv", walmart)
            built.append(DataSet(name, csv, "W", "W-FRI", 13, 2, 52, 52, "1,2,4,52"))
        elif name == "demo":
            built.append(DataSet(name, demo_csv(scratch / "demo.csv"), "D", "D", 28, 2, 7, 7, "1,7,14,28"))
        elif name == "synthetic":
            csv = synthetic_csv(scratch / "synthetic.csv", scratch)
            built.append(DataSet(name, csv, "D", "D", 28, 2, 7, 7, "1,7,14,28"))
        elif name == "monthly":
            csv = monthly_intermittent_csv(scratch / "monthly.csv")
            built.append(DataSet(name, csv, None, "MS", 6, 2, 12, 1, "1,2,3,6,12"))
        else:
            raise SystemExit(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated, from " + ", ".join(DATASETS))
    parser.add_argument("--walmart", type=Path, default=WALMART_DATA, help="walmart_45stores_weekly.csv")
    args = parser.parse_args(argv)

    python = ensure_peer_env()
    with tempfile.TemporaryDirectory(prefix="peers-") as folder:
        scratch = Path(folder)
        for dataset in datasets(args.datasets.split(","), scratch, args.walmart):
            with contextlib.redirect_stdout(sys.stderr):
                rows, header = benchmark(dataset, python, scratch)
            print(f"### {header}\n\n{markdown(rows)}\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
