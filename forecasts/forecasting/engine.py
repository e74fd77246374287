"""Forecast one series or many: classify each series, route it to the model that suits it, return quantiles.

Routing (see ``classify``): smooth and erratic demand → Prophet, falling back to a baseline if Prophet fails;
on weekly data with more than a year and a quarter of history, Prophet is blended with the seasonal naive
moved to the current level (``PROPHET_BLEND``); intermittent and lumpy → TSB; short → seasonal naive with at
least two seasons of history, else a moving average; zero → zeros. Only smooth and erratic series pay for a
Prophet fit; everything else costs microseconds. Those routes are each class's default: ``forecast_many`` first
scores ``CHOICE_CANDIDATES`` per class on a rolling backtest of a sample of the class's series and switches a
class to another candidate only when it clearly wins (``model_choice``, ``choose_models``).

``forecast_many`` runs the same per-series function over a long frame, in chunks of series, optionally fanned
out over worker processes or any executor (a Dask cluster: see ``ChunkExecutor``), and gives identical results
either way. Within a chunk the series are handled as numpy arrays (day numbers, quantities), so the per-series cost
is the model's, not pandas'. Workers only compute: they get a chunk (or the path of a Parquet file holding it) and
return its forecast; they never touch the warehouse.
"""

from __future__ import annotations

import logging
import multiprocessing
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from forecasts.forecasting import models
from forecasts.forecasting.blas_threads import one_blas_thread
from forecasts.forecasting.classify import (
    ERRATIC,
    INTERMITTENT,
    LUMPY,
    SHORT,
    SMOOTH,
    ZERO,
    DemandClass,
    classify_demand,
    min_observations,
)
from forecasts.forecasting.model_choice import CHOICE_COLUMNS, MIN_SERIES, ClassChoice, choose
from forecasts.forecasting.periods import (
    DAILY,
    FREQUENCIES,
    MONTHLY,
    WEEKLY,
    period_days,
    period_positions,
    values_on_days,
)
from forecasts.forecasting.quantiles import QuantileForecast

logger = logging.getLogger(__name__)

SEASON_LENGTH = {DAILY: 7, WEEKLY: 52, MONTHLY: 12}
# Usable periods before a series is classified on its pattern rather than as short: eight weeks of days or
# weeks; a year of months (fewer months say nothing about a pattern).
MIN_OBSERVATIONS = {DAILY: min_observations(7), WEEKLY: min_observations(1), MONTHLY: 12}
# Recent window for the moving average of short series: four weeks of days, eight weeks of weeks, half a year
# of months.
MOVING_AVERAGE_WINDOW = {DAILY: 28, WEEKLY: 8, MONTHLY: 6}
# Weekly data is blended with the seasonal naive moved to the level of the last quarter (13 weeks) once it has
# a full year plus that quarter. Daily product-level data is not: there the value of the same day last year is
# mostly noise, and the blend loses to Prophet alone (WAPE 51 % against 56 % in a three-origin backtest on the
# data of benchmarks/forecast_throughput.py). On the Walmart store data the blend takes WAPE from 6.8 % to 5.1 %
# on validation origins before the held-out weeks.
BLEND_FREQUENCIES = (WEEKLY,)
BLEND_LEVEL_WINDOW = 13

FORECAST_COLUMNS = ["date", "p50", "p90"]
MANY_COLUMNS = ["series_id", "date", "p50", "p90", "model", "demand_class", "adi", "cv2", *CHOICE_COLUMNS]

# What ``forecast_many`` may choose between per demand class (``model_choice``); the first is the class's default
# route. Smooth and erratic series' default is Prophet (blended where the frequency blends).
_PROPHET_ROUTE = "prophet_route"
CHOICE_CANDIDATES = {
    INTERMITTENT: (models.TSB, models.ADIDA, models.IMAPA),
    LUMPY: (models.TSB, models.ADIDA, models.IMAPA),
    SMOOTH: (_PROPHET_ROUTE, models.SEASONAL_NAIVE, models.MOVING_AVERAGE),
    ERRATIC: (_PROPHET_ROUTE, models.SEASONAL_NAIVE, models.MOVING_AVERAGE),
}
# Series backtested per class and call, at most: Prophet's fit costs milliseconds, so its classes are sampled
# thinly; the intermittent models cost about a millisecond per hundred periods (their smoothing runs period by
# period), so their classes are capped by ``CHOICE_PERIODS`` periods of history too: some 200 series of four years
# of months, 28 of two years of days. Either way the choice costs a bounded backtest per class, whatever the number
# of series.
CHOICE_CAP = {INTERMITTENT: 200, LUMPY: 200, SMOOTH: 24, ERRATIC: 24}
CHOICE_PERIODS = 20_000

# A worker process costs seconds to start (a fresh interpreter importing numpy and pandas) while a series costs
# milliseconds, so one worker is started per this many series at most; below it everything runs in process.
MIN_SERIES_PER_WORKER = 1000
# Chunks waiting in the pool per worker: enough to keep workers busy, few enough that inputs are sliced
# lazily and memory stays flat however many series there are.
_CHUNKS_IN_FLIGHT_PER_WORKER = 2


class ChunkFuture(Protocol):
    def result(self) -> Any: ...


class ChunkExecutor(Protocol):
    """Where chunks of series are forecast: ``submit(function, *args)`` returns a future with ``result()``.

    ``workers`` sizes how many chunks are kept in flight. A ``concurrent.futures`` executor wrapped with its worker
    count fits, and so does a ``dask.distributed`` client (``orchestration.runtime.resources.ForecastCompute`` builds
    both). ``spill_dir``, when not None, is a folder the workers can read too (local disk for a local cluster, a
    shared mount for a remote one): chunks of ``spill_rows`` rows or more are handed over there as Parquet files
    instead of being pickled through the scheduler.
    """

    workers: int
    spill_dir: Path | None
    spill_rows: int

    def submit(self, function: Callable[..., pd.DataFrame], /, *args: Any) -> ChunkFuture: ...


@dataclass
class ProcessPool:
    """A spawn-started ``ProcessPoolExecutor`` as a ``ChunkExecutor`` (spawn behaves the same on Linux and macOS
    and is safe inside a threaded host such as a Dagster run). Use it as a context manager."""

    workers: int
    spill_dir: Path | None = None
    spill_rows: int = 0

    def __post_init__(self) -> None:
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))

    def submit(self, function: Callable[..., pd.DataFrame], /, *args: Any) -> ChunkFuture:
        return self._pool.submit(function, *args)

    def shutdown(self, cancel: bool = False) -> None:
        self._pool.shutdown(wait=True, cancel_futures=cancel)

    def __enter__(self) -> ProcessPool:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.shutdown(cancel=value is not None)


def useful_workers(n_series: int, n_jobs: int, chunk_size: int = 16) -> int:
    """How many worker processes pay for their start-up on ``n_series`` series (1 = run in process)."""
    return max(1, min(n_jobs, -(-n_series // chunk_size), n_series // MIN_SERIES_PER_WORKER))


@dataclass(frozen=True)
class SeriesForecast:
    """The forecast of one series: ``forecast`` has columns ``date, p50, p90`` for each future period.

    ``fallback_reason`` says why Prophet was replaced by a baseline (None when it was not).
    """

    forecast: pd.DataFrame
    model: str
    demand_class: DemandClass
    fallback_reason: str | None = None


@dataclass(frozen=True)
class RegularSeries:
    """One value per period from the first to the last history date.

    ``days`` are day numbers since 1970-01-01 (one period apart), ``y`` the demand with NaN where it is unknown
    (censored or missing quantity), ``regressors`` one column per regressor.
    """

    days: np.ndarray
    y: np.ndarray
    regressors: np.ndarray

    def future_days(self, horizon: int, freq: str) -> np.ndarray:
        """Day numbers of the ``horizon`` periods after the history (weekly ones on the history's weekday,
        monthly ones on the 1st)."""
        return period_days(int(self.days[-1]), np.arange(1, horizon + 1, dtype=np.int64), freq)


def _check_freq(freq: str) -> None:
    if freq not in FREQUENCIES:
        raise ValueError(f"freq must be one of {list(FREQUENCIES)}, got {freq!r}")


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{what} is missing columns: {', '.join(missing)}")


def _fill_forward_then_back(values: np.ndarray) -> np.ndarray:
    """Carry each column's last known value forward, then its first known value back to the start."""
    filled = values.copy()
    for column in range(filled.shape[1]):
        current = filled[:, column]
        known = ~np.isnan(current)
        if not known.any():
            continue
        last_known = np.maximum.accumulate(np.where(known, np.arange(current.size), 0))
        current = current[last_known]
        current[: np.argmax(known)] = current[np.argmax(known)]
        filled[:, column] = current
    return filled


def regular_series(
    days: np.ndarray,
    qty: np.ndarray,
    freq: str,
    censored: np.ndarray | None = None,
    regressors: np.ndarray | None = None,
    regressor_names: Sequence[str] = (),
) -> RegularSeries:
    """Put one series' rows (any order) on a regular grid of periods.

    Periods absent from the history had no sales row, so they are zero demand. Censored periods and NaN
    quantities become NaN (unknown demand); negative quantities (net returns) become zero demand. Regressor
    values on absent periods carry the last known value (a price holds until it changes).
    """
    days = np.asarray(days, dtype=np.int64)
    if days.size == 0:
        raise ValueError("history has no rows")
    order = np.argsort(days, kind="stable")
    days = days[order]
    if np.any(np.diff(days) == 0):
        duplicates = np.unique(days[1:][np.diff(days) == 0])[:5].astype("datetime64[D]")
        raise ValueError(f"history has more than one row for dates {[str(day) for day in duplicates]}")
    positions = period_positions(days, freq)
    if freq == MONTHLY and np.any(np.diff(positions) == 0):
        twice = days[1:][np.diff(positions) == 0][:5].astype("datetime64[D]").astype("datetime64[M]")
        raise ValueError(f"history has more than one row for months {[str(month) for month in twice]}")
    periods = int(positions[-1]) + 1

    values = np.clip(np.asarray(qty, dtype=float)[order], 0.0, None)
    if censored is not None:
        values = np.where(np.asarray(censored, dtype=bool)[order], np.nan, values)
    y = np.zeros(periods)
    y[positions] = values

    n_regressors = len(regressor_names)
    grid = np.full((periods, n_regressors), np.nan)
    if n_regressors:
        grid[positions] = np.asarray(regressors, dtype=float).reshape(len(days), n_regressors)[order]
        grid = _fill_forward_then_back(grid)
        for column, name in enumerate(regressor_names):
            if np.isnan(grid[:, column]).any():
                raise ValueError(f"regressor {name!r} has no values in the history")
    return RegularSeries(period_days(int(days[0]), np.arange(periods, dtype=np.int64), freq), y, grid)


def _baseline(y: np.ndarray, horizon: int, freq: str) -> tuple[str, QuantileForecast]:
    season = SEASON_LENGTH[freq]
    if y.size >= 2 * season:
        return models.SEASONAL_NAIVE, models.seasonal_naive_forecast(y, horizon, season)
    return models.MOVING_AVERAGE, models.moving_average_forecast(y, horizon, MOVING_AVERAGE_WINDOW[freq])


def _prophet_route_name(freq: str) -> str:
    return models.PROPHET_BLEND if freq in BLEND_FREQUENCIES else models.PROPHET


def candidate_forecast(model: str, y: np.ndarray, horizon: int, freq: str) -> QuantileForecast:
    """The forecast of one of ``CHOICE_CANDIDATES``' models other than the Prophet route."""
    if model == models.TSB:
        return models.tsb_forecast(y, horizon)
    if model == models.ADIDA:
        return models.adida_forecast(y, horizon)
    if model == models.IMAPA:
        return models.imapa_forecast(y, horizon)
    if model == models.SEASONAL_NAIVE:
        return models.seasonal_naive_forecast(y, horizon, SEASON_LENGTH[freq])
    if model == models.MOVING_AVERAGE:
        return models.moving_average_forecast(y, horizon, MOVING_AVERAGE_WINDOW[freq])
    raise ValueError(f"no candidate model named {model!r}")


def forecast_regular(
    series: RegularSeries,
    horizon: int,
    freq: str,
    country: str | None = None,
    future_regressors: np.ndarray | None = None,
    choices: Mapping[str, ClassChoice] | None = None,
) -> tuple[QuantileForecast, str, DemandClass, str | None]:
    """Classify one regular series and forecast it with the model its class is routed to, or with the model
    ``choices`` (demand class → ``ClassChoice``, from ``choose_models``) switched the class to.

    Returns the quantiles, the model name, the demand class and why Prophet fell back (None when it did not).
    ``future_regressors`` has a row per future period and the same columns as ``series.regressors``.
    """
    y = series.y
    demand_class = classify_demand(y, min_obs=MIN_OBSERVATIONS[freq])
    chosen = (choices or {}).get(demand_class.label)
    if chosen is not None and chosen.switched:
        return candidate_forecast(chosen.model, y, horizon, freq), chosen.model, demand_class, None
    if demand_class.label == ZERO:
        return models.zero_forecast(horizon), models.ZERO, demand_class, None
    if demand_class.label in (INTERMITTENT, LUMPY):
        return models.tsb_forecast(y, horizon), models.TSB, demand_class, None
    if demand_class.label == SHORT:
        model, quantiles = _baseline(y, horizon, freq)
        return quantiles, model, demand_class, None
    if demand_class.label not in (SMOOTH, ERRATIC):
        raise AssertionError(f"unrouted demand class {demand_class.label!r}")

    try:
        quantiles = models.prophet_fit_predict(
            series.days,
            y,
            series.future_days(horizon, freq),
            freq=freq,
            country=country,
            regressors=series.regressors if series.regressors.shape[1] else None,
            future_regressors=future_regressors,
        )
    # Prophet and the Stan optimiser fail in many ways (numerical, I/O, bad data); any of them should
    # cost one series its best model, not the night's run.
    except Exception as error:
        fallback_reason = f"{type(error).__name__}: {error}"
        logger.warning("Prophet failed, using a baseline instead: %s", fallback_reason)
        model, quantiles = _baseline(y, horizon, freq)
        return quantiles, model, demand_class, fallback_reason

    season = SEASON_LENGTH[freq]
    if freq in BLEND_FREQUENCIES and y.size > season + BLEND_LEVEL_WINDOW:
        level_adjusted = models.seasonal_level_forecast(y, horizon, season, BLEND_LEVEL_WINDOW)
        return models.blend_forecasts(quantiles, level_adjusted), models.PROPHET_BLEND, demand_class, None
    return quantiles, models.PROPHET, demand_class, None


def _future_values(
    future_days: np.ndarray, regressors: Sequence[str], future_regressors: pd.DataFrame | None, freq: str
) -> np.ndarray | None:
    """The regressor values for each future day, from ``future_regressors`` (``date`` + the regressors; a
    monthly row may carry any date of its month)."""
    if not regressors:
        return None
    _require_columns(future_regressors, ["date", *regressors], "future_regressors")
    values = future_regressors[list(regressors)].to_numpy(dtype=float)
    return values_on_days(future_days, models.day_numbers(future_regressors["date"]), values, freq)


def _day_numbers_of(dates: pd.Series) -> np.ndarray:
    parsed = pd.to_datetime(dates)
    if parsed.isna().any():
        raise ValueError("history has missing dates")
    return models.day_numbers(parsed)


def _dates(days: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(days.astype("datetime64[D]").astype("datetime64[ns]"))


def forecast_series(
    history: pd.DataFrame,
    horizon: int,
    freq: str = DAILY,
    country: str | None = None,
    regressors: list[str] | None = None,
    future_regressors: pd.DataFrame | None = None,
) -> SeriesForecast:
    """Classify one series and forecast ``horizon`` periods after its last date.

    ``history`` has columns ``date, qty``, optionally ``censored`` (bool: the location was out of stock, so
    the quantity is not demand) and the regressor columns. ``freq`` is ``"D"``, ``"W"`` or ``"M"``; weekly
    forecast dates keep the weekday of the history, monthly ones are the months' first days. ``country`` adds
    its national holidays to Prophet. Regressors (e.g. a promotion flag) are used only when
    ``future_regressors`` (``date`` + the same columns) gives their values for every forecast date, since
    Prophet cannot forecast without them.
    """
    _check_freq(freq)
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}")
    _require_columns(history, ["date", "qty"], "history")
    if history.empty:
        raise ValueError("history has no rows")
    if country:
        models.validate_country(country)
    used_regressors = list(regressors or []) if future_regressors is not None else []
    _require_columns(history, used_regressors, "history")

    series = regular_series(
        _day_numbers_of(history["date"]),
        pd.to_numeric(history["qty"], errors="coerce").to_numpy(dtype=float),
        freq,
        censored=history["censored"].fillna(False).to_numpy(dtype=bool) if "censored" in history.columns else None,
        regressors=history[used_regressors].apply(pd.to_numeric).to_numpy(dtype=float) if used_regressors else None,
        regressor_names=used_regressors,
    )
    future_days = series.future_days(horizon, freq)
    future = _future_values(future_days, used_regressors, future_regressors, freq)
    quantiles, model, demand_class, fallback_reason = forecast_regular(series, horizon, freq, country, future)
    forecast = pd.DataFrame({"date": _dates(future_days), "p50": quantiles.p50, "p90": quantiles.p90})
    return SeriesForecast(forecast, model, demand_class, fallback_reason)


def _chunk_series(
    chunk: pd.DataFrame, future_chunk: pd.DataFrame | None, horizon: int, freq: str, regressors: list[str] | None
) -> Iterator[tuple[object, RegularSeries, np.ndarray, np.ndarray | None]]:
    """Each series of ``chunk`` (rows grouped by series) as ``series_id``, its regular series, its future day numbers
    and its future regressor values. Columns are converted to arrays once per chunk, not once per series."""
    used_regressors = list(regressors or []) if future_chunk is not None else []
    ids = chunk["series_id"].to_numpy()
    days = _day_numbers_of(chunk["date"])
    qty = pd.to_numeric(chunk["qty"], errors="coerce").to_numpy(dtype=float)
    censored = chunk["censored"].fillna(False).to_numpy(dtype=bool) if "censored" in chunk.columns else None
    regressor_values = chunk[used_regressors].apply(pd.to_numeric).to_numpy(dtype=float) if used_regressors else None
    # The future rows' days and values as arrays once per chunk, and each series' row positions (in the rows' order).
    future_rows: dict[object, np.ndarray] = {}
    if future_chunk is not None and used_regressors:
        _require_columns(future_chunk, ["date", *used_regressors], "future_regressors")
        future_days_all = models.day_numbers(future_chunk["date"])
        future_values_all = future_chunk[used_regressors].to_numpy(dtype=float)
        codes, future_ids = pd.factorize(future_chunk["series_id"].to_numpy())
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(future_ids) + 1))
        future_rows = {future_ids[k]: order[bounds[k] : bounds[k + 1]] for k in range(len(future_ids))}
    for series_id, rows in _row_ranges(ids).items():
        # As in forecast_series, a series uses the regressors only when its future values are given.
        series_future = future_rows.get(series_id)
        names = used_regressors if series_future is not None else []
        try:
            series = regular_series(
                days[rows],
                qty[rows],
                freq,
                censored=None if censored is None else censored[rows],
                regressors=regressor_values[rows] if names else None,
                regressor_names=names,
            )
            future_days = series.future_days(horizon, freq)
            future = None
            if names:
                future = values_on_days(
                    future_days, future_days_all[series_future], future_values_all[series_future], freq
                )
        except ValueError as error:
            raise ValueError(f"series {series_id!r}: {error}") from error
        yield series_id, series, future_days, future


@one_blas_thread()
def choose_models(
    chunk: pd.DataFrame,
    future_chunk: pd.DataFrame | None,
    horizon: int,
    freq: str,
    countries: Mapping[object, str],
    regressors: list[str] | None,
) -> dict[str, ClassChoice]:
    """The model of each demand class of ``chunk``'s series, chosen by a rolling backtest on the class
    (``model_choice.choose``: ``CHOICE_CANDIDATES``, at most ``CHOICE_CAP`` series per class), on one BLAS thread."""
    members: dict[str, list[tuple[object, RegularSeries]]] = {}
    for series_id, series, _, _ in _chunk_series(chunk, future_chunk, horizon, freq, regressors):
        label = classify_demand(series.y, min_obs=MIN_OBSERVATIONS[freq]).label
        if label in CHOICE_CANDIDATES:
            members.setdefault(label, []).append((series_id, series))
    choices = {}
    for label, entries in members.items():

        def prophet_route(index: int, cut: int, entries=entries) -> np.ndarray:
            series_id, series = entries[index]
            past = RegularSeries(series.days[:cut], series.y[:cut], series.regressors[:cut])
            future = series.regressors[cut : cut + horizon] if series.regressors.shape[1] else None
            return forecast_regular(past, horizon, freq, countries.get(series_id), future)[0].p50

        def named(model: str, entries=entries) -> Callable[[int, int], np.ndarray]:
            return lambda index, cut: candidate_forecast(model, entries[index][1].y[:cut], horizon, freq).p50

        names = CHOICE_CANDIDATES[label]
        # The Prophet route is named by what it forecasts with at this frequency.
        named_as = {_PROPHET_ROUTE: _prophet_route_name(freq)}
        candidates = {
            named_as.get(name, name): prophet_route if name == _PROPHET_ROUTE else named(name) for name in names
        }
        default = named_as.get(names[0], names[0])
        histories = [series.y for _, series in entries]
        cap = max(MIN_SERIES, min(CHOICE_CAP[label], CHOICE_PERIODS // max(y.size for y in histories)))
        choice = choose(histories, candidates, default, horizon, min_train=MIN_OBSERVATIONS[freq], cap=cap)
        logger.info("model choice for %s series (freq %s): %s — %s", label, freq, choice.model, choice.reason)
        choices[label] = choice
    return choices


@one_blas_thread()
def _forecast_chunk(
    chunk: pd.DataFrame,
    future_chunk: pd.DataFrame | None,
    horizon: int,
    freq: str,
    countries: Mapping[object, str],
    regressors: list[str] | None,
    choices: Mapping[str, ClassChoice] | None = None,
) -> pd.DataFrame:
    """Forecast every series in ``chunk`` (rows grouped by series) with the class ``choices``; a top-level function
    so spawned workers can unpickle it. BLAS runs on one thread meanwhile (``blas_threads``)."""
    choices = choices or {}
    parts: dict[str, list] = {column: [] for column in MANY_COLUMNS}
    for series_id, series, future_days, future in _chunk_series(chunk, future_chunk, horizon, freq, regressors):
        try:
            quantiles, model, demand_class, _ = forecast_regular(
                series, horizon, freq, countries.get(series_id), future, choices
            )
        except ValueError as error:
            raise ValueError(f"series {series_id!r}: {error}") from error
        choice = choices.get(demand_class.label)
        parts["series_id"].append(np.full(horizon, series_id, dtype=object))
        parts["date"].append(future_days)
        parts["p50"].append(quantiles.p50)
        parts["p90"].append(quantiles.p90)
        parts["model"].append(np.full(horizon, model, dtype=object))
        parts["demand_class"].append(np.full(horizon, demand_class.label, dtype=object))
        parts["adi"].append(np.full(horizon, demand_class.adi))
        parts["cv2"].append(np.full(horizon, demand_class.cv2))
        parts["choice_reason"].append(np.full(horizon, choice and choice.reason, dtype=object))
        parts["choice_scores"].append(np.full(horizon, choice and choice.scores_json(), dtype=object))
        parts["choice_origins"].append(np.full(horizon, choice.origins if choice and choice.scores else np.nan))
        parts["choice_series"].append(np.full(horizon, choice.series if choice and choice.scores else np.nan))
    columns = {column: np.concatenate(values) for column, values in parts.items()}
    columns["date"] = _dates(columns["date"])
    frame = pd.DataFrame(columns)[MANY_COLUMNS]
    return frame.astype({"choice_origins": "Int64", "choice_series": "Int64"})


def _forecast_chunk_file(
    path: str,
    future_chunk: pd.DataFrame | None,
    horizon: int,
    freq: str,
    countries: Mapping[object, str],
    regressors: list[str] | None,
    choices: Mapping[str, ClassChoice] | None = None,
) -> pd.DataFrame:
    """``_forecast_chunk`` on a chunk handed over as a Parquet file (read with an in-memory DuckDB, no warehouse)."""
    import duckdb

    with duckdb.connect() as reader:
        chunk = reader.execute("select * from read_parquet(?)", [path]).df()
    return _forecast_chunk(chunk, future_chunk, horizon, freq, countries, regressors, choices)


def _write_chunk_file(chunk: pd.DataFrame, folder: Path) -> Path:
    import duckdb

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"chunk-{uuid.uuid4().hex}.parquet"
    with duckdb.connect() as writer:
        writer.register("chunk_rows", chunk)
        writer.execute(f"copy chunk_rows to '{path.as_posix()}' (format parquet)")
    return path


def _row_ranges(ids: np.ndarray) -> dict[object, slice]:
    """Row range of each series in an array of ids where each series' rows are contiguous."""
    if ids.size == 0:
        return {}
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(ids)]
    return {ids[start]: slice(start, end) for start, end in zip(starts, ends, strict=True)}


def forecast_many(
    frame: pd.DataFrame,
    horizon: int,
    freq: str = DAILY,
    countries: Mapping[str, str] | None = None,
    n_jobs: int = 1,
    chunk_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
    *,
    regressors: list[str] | None = None,
    future_regressors: pd.DataFrame | None = None,
    executor: ChunkExecutor | None = None,
    choose_by_class: bool = True,
    choices: Mapping[str, ClassChoice] | None = None,
) -> pd.DataFrame:
    """Forecast every series of a long frame ``series_id, date, qty[, censored, regressors...]``.

    Returns ``series_id, date, p50, p90, model, demand_class, adi, cv2`` and the evidence of the model choice,
    ordered by series and date. With ``choose_by_class`` each demand class of the frame's series is forecast with
    the candidate a rolling backtest on the class picks (``choose_models``; the class's default unless another
    clearly wins), computed once here before any chunk is sent out; ``choice_reason``, ``choice_scores`` (each
    candidate's mean MASE, JSON), ``choice_origins`` and ``choice_series`` say why, per series. A caller that
    forecasts one set of series in several calls (the nightly, chunk by chunk) chooses once (``choose_models``)
    and passes the same ``choices`` to every call.
    ``countries`` maps a series to its country for holidays. Series ids may be strings or numbers (a caller that
    reads millions of rows numbers its series and maps the ids back by a join). Series are processed in chunks of
    ``chunk_size``; with ``n_jobs > 1`` and enough series to pay for starting them (``MIN_SERIES_PER_WORKER``
    each) the chunks run in a ``ProcessPool``; with an ``executor`` (a pool or cluster the caller keeps for many
    calls) they run there whatever their number. At most a few chunks per worker are in flight, so memory stays
    flat. Results do not depend on ``n_jobs`` or the executor. ``progress(series_done, series_total)`` is called
    after each chunk. Regressors work as in ``forecast_series``; ``future_regressors`` is long too (``series_id,
    date`` + the regressor columns). A ValueError about one series names it.
    """
    _check_freq(freq)
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}")
    if n_jobs < 1 or chunk_size < 1:
        raise ValueError(f"n_jobs and chunk_size must be at least 1, got {n_jobs} and {chunk_size}")
    _require_columns(frame, ["series_id", "date", "qty"], "frame")
    if frame["series_id"].isna().any():
        raise ValueError("frame has rows without a series_id")
    countries = {series_id: country for series_id, country in (countries or {}).items() if country}
    for country in sorted(set(countries.values())):
        models.validate_country(country)

    used_regressors = list(regressors or []) if future_regressors is not None else []
    censored = ["censored"] if "censored" in frame.columns else []
    columns = ["series_id", "date", "qty", *censored, *used_regressors]
    _require_columns(frame, columns, "frame")
    ordered = frame[columns].sort_values("series_id", kind="stable", ignore_index=True)
    ranges = _row_ranges(ordered["series_id"].to_numpy())
    series_ids = list(ranges)
    if not series_ids:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in MANY_COLUMNS})

    future_ordered, future_ranges = None, {}
    if future_regressors is not None:
        _require_columns(future_regressors, ["series_id", "date", *used_regressors], "future_regressors")
        future_ordered = future_regressors[["series_id", "date", *used_regressors]].sort_values(
            "series_id", kind="stable", ignore_index=True
        )
        future_ranges = _row_ranges(future_ordered["series_id"].to_numpy())
    if choices is None and choose_by_class:
        choices = choose_models(ordered, future_ordered, horizon, freq, countries, regressors)

    def chunk_tasks() -> Iterator[tuple[int, tuple]]:
        for start in range(0, len(series_ids), chunk_size):
            chunk_ids = series_ids[start : start + chunk_size]
            rows = slice(ranges[chunk_ids[0]].start, ranges[chunk_ids[-1]].stop)
            future_chunk = None
            if future_ordered is not None:
                future_chunk = pd.concat(
                    [future_ordered.iloc[future_ranges[i]] for i in chunk_ids if i in future_ranges]
                    or [future_ordered.iloc[:0]]
                )
            chunk_countries = {i: countries[i] for i in chunk_ids if i in countries}
            arguments = (ordered.iloc[rows], future_chunk, horizon, freq, chunk_countries, regressors, choices or {})
            yield len(chunk_ids), arguments

    total = len(series_ids)
    done = 0
    results: list[pd.DataFrame] = []

    def record(n_series: int, result: pd.DataFrame) -> None:
        nonlocal done
        results.append(result)
        done += n_series
        if progress is not None:
            progress(done, total)

    if executor is not None:
        _run_on(executor, chunk_tasks(), record)
    elif (workers := useful_workers(total, n_jobs, chunk_size)) > 1:
        with ProcessPool(workers) as pool:
            _run_on(pool, chunk_tasks(), record)
    else:
        for n_series, arguments in chunk_tasks():
            record(n_series, _forecast_chunk(*arguments))
    return pd.concat(results, ignore_index=True)


def _run_on(
    executor: ChunkExecutor, tasks: Iterator[tuple[int, tuple]], record: Callable[[int, pd.DataFrame], None]
) -> None:
    """Submit chunks with a bounded number in flight and record their results in submission order.

    Taking results in order keeps the output order (and so every caller's result) independent of which worker
    finished first; chunks are of similar size, so waiting on the oldest costs little.
    """
    in_flight = max(1, executor.workers) * _CHUNKS_IN_FLIGHT_PER_WORKER
    pending: deque[tuple[int, ChunkFuture, Path | None]] = deque()

    def collect_oldest() -> None:
        n_series, future, spilled = pending.popleft()
        try:
            record(n_series, future.result())
        finally:
            if spilled is not None:
                spilled.unlink(missing_ok=True)

    try:
        for n_series, arguments in tasks:
            chunk, rest = arguments[0], arguments[1:]
            spilled = None
            if executor.spill_dir is not None and len(chunk) >= executor.spill_rows:
                spilled = _write_chunk_file(chunk, Path(executor.spill_dir))
                future = executor.submit(_forecast_chunk_file, str(spilled), *rest)
            else:
                future = executor.submit(_forecast_chunk, *arguments)
            pending.append((n_series, future, spilled))
            while len(pending) >= in_flight:
                collect_oldest()
        while pending:
            collect_oldest()
    finally:
        for _, _, spilled in pending:
            if spilled is not None:
                spilled.unlink(missing_ok=True)
