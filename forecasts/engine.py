"""Forecast one series or many: classify each series, route it to the model that suits it, return quantiles.

Routing (see ``classify``): smooth and erratic demand → Prophet, falling back to a baseline if Prophet fails;
intermittent and lumpy → TSB; short → seasonal naive with at least two seasons of history, else a moving
average; zero → zeros. ``forecast_many`` runs the same per-series function over a long frame, optionally
fanned out over worker processes, and gives identical results either way.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasts import models
from forecasts.classify import (
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
from forecasts.models import DAILY, DAYS_PER_PERIOD, WEEKLY, QuantileForecast

logger = logging.getLogger(__name__)

SEASON_LENGTH = {DAILY: 7, WEEKLY: 52}
PERIODS_PER_WEEK = {DAILY: 7, WEEKLY: 1}
# Recent window for the moving average of short series: four weeks of days, eight weeks of weeks.
MOVING_AVERAGE_WINDOW = {DAILY: 28, WEEKLY: 8}

FORECAST_COLUMNS = ["date", "p50", "p90"]
MANY_COLUMNS = ["series_id", "date", "p50", "p90", "model", "demand_class", "adi", "cv2"]

# Chunks waiting in the pool per worker: enough to keep workers busy, few enough that inputs are sliced
# lazily and memory stays flat however many series there are.
_CHUNKS_IN_FLIGHT_PER_WORKER = 2


@dataclass(frozen=True)
class SeriesForecast:
    """The forecast of one series: ``forecast`` has columns ``date, p50, p90`` for each future period.

    ``fallback_reason`` says why Prophet was replaced by a baseline (None when it was not).
    """

    forecast: pd.DataFrame
    model: str
    demand_class: DemandClass
    fallback_reason: str | None = None


def _check_freq(freq: str) -> None:
    if freq not in DAYS_PER_PERIOD:
        raise ValueError(f"freq must be one of {sorted(DAYS_PER_PERIOD)}, got {freq!r}")


def _require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{what} is missing columns: {', '.join(missing)}")


def _regular_history(history: pd.DataFrame, freq: str, regressors: Sequence[str]) -> pd.DataFrame:
    """One row per period from the first to the last history date, with ``ds``, ``y`` and the regressors.

    Periods absent from the history had no sales row, so they are zero demand. Censored periods and NaN
    quantities become NaN ``y`` (unknown demand); negative quantities (net returns) become zero demand.
    Regressor values on absent periods carry the last known value (a price holds until it changes).
    """
    dates = pd.to_datetime(history["date"]).dt.normalize()
    if dates.isna().any():
        raise ValueError("history has missing dates")
    if dates.duplicated().any():
        duplicates = sorted(dates[dates.duplicated()].dt.date.unique())
        raise ValueError(f"history has more than one row for dates {duplicates[:5]}")
    step = pd.Timedelta(days=DAYS_PER_PERIOD[freq])
    first = dates.min()
    if freq == WEEKLY and ((dates - first) % step != pd.Timedelta(0)).any():
        raise ValueError("weekly history must have every date on the same weekday")

    qty = pd.to_numeric(history["qty"], errors="coerce").to_numpy(dtype=float)
    if "censored" in history.columns:
        censored = history["censored"].fillna(False).to_numpy(dtype=bool)
        qty = np.where(censored, np.nan, qty)
    frame = pd.DataFrame({"y": np.clip(qty, 0.0, None)}, index=pd.DatetimeIndex(dates))
    for name in regressors:
        frame[name] = pd.to_numeric(history[name]).to_numpy(dtype=float)

    grid = pd.date_range(first, dates.max(), freq=step)
    regular = frame.sort_index().reindex(grid)
    regular["y"] = regular["y"].where(regular.index.isin(dates), 0.0)
    for name in regressors:
        regular[name] = regular[name].ffill().bfill()
        if regular[name].isna().any():
            raise ValueError(f"regressor {name!r} has no values in the history")
    regular.index.name = "ds"
    return regular.reset_index()


def _future_frame(
    future_dates: pd.DatetimeIndex, regressors: Sequence[str], future_regressors: pd.DataFrame | None
) -> pd.DataFrame:
    future = pd.DataFrame({"ds": future_dates})
    if not regressors:
        return future
    _require_columns(future_regressors, ["date", *regressors], "future_regressors")
    values = future_regressors.assign(date=pd.to_datetime(future_regressors["date"]).dt.normalize())
    values = values.drop_duplicates("date", keep="last").set_index("date")[list(regressors)]
    aligned = values.reindex(future_dates)
    if aligned.isna().any().any():
        missing = sorted(aligned.index[aligned.isna().any(axis=1)].date)
        raise ValueError(f"future_regressors has no values for {len(missing)} forecast dates, e.g. {missing[0]}")
    for name in regressors:
        future[name] = aligned[name].to_numpy(dtype=float)
    return future


def _baseline(y: np.ndarray, horizon: int, freq: str) -> tuple[str, QuantileForecast]:
    season = SEASON_LENGTH[freq]
    if y.size >= 2 * season:
        return models.SEASONAL_NAIVE, models.seasonal_naive_forecast(y, horizon, season)
    return models.MOVING_AVERAGE, models.moving_average_forecast(y, horizon, MOVING_AVERAGE_WINDOW[freq])


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
    the quantity is not demand) and the regressor columns. ``freq`` is ``"D"`` or ``"W"``; weekly forecast
    dates keep the weekday of the history. ``country`` adds its national holidays to Prophet. Regressors
    (e.g. a promotion flag) are used only when ``future_regressors`` (``date`` + the same columns) gives
    their values for every forecast date, since Prophet cannot forecast without them.
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

    regular = _regular_history(history, freq, used_regressors)
    step = pd.Timedelta(days=DAYS_PER_PERIOD[freq])
    future_dates = pd.DatetimeIndex([regular["ds"].iloc[-1] + step * k for k in range(1, horizon + 1)])
    future = _future_frame(future_dates, used_regressors, future_regressors)

    y = regular["y"].to_numpy(dtype=float)
    demand_class = classify_demand(y, min_obs=min_observations(PERIODS_PER_WEEK[freq]))
    fallback_reason = None
    if demand_class.label == ZERO:
        model, quantiles = models.ZERO, models.zero_forecast(horizon)
    elif demand_class.label in (INTERMITTENT, LUMPY):
        model, quantiles = models.TSB, models.tsb_forecast(y, horizon)
    elif demand_class.label == SHORT:
        model, quantiles = _baseline(y, horizon, freq)
    elif demand_class.label in (SMOOTH, ERRATIC):
        try:
            quantiles = models.prophet_forecast(regular, future, freq=freq, country=country, regressors=used_regressors)
            model = models.PROPHET
        # Prophet and the Stan optimiser fail in many ways (numerical, I/O, bad data); any of them should
        # cost one series its best model, not the night's run.
        except Exception as error:
            fallback_reason = f"{type(error).__name__}: {error}"
            logger.warning("Prophet failed, using a baseline instead: %s", fallback_reason)
            model, quantiles = _baseline(y, horizon, freq)
    else:
        raise AssertionError(f"unrouted demand class {demand_class.label!r}")

    forecast = pd.DataFrame({"date": future_dates, "p50": quantiles.p50, "p90": quantiles.p90})
    return SeriesForecast(forecast, model, demand_class, fallback_reason)


def _forecast_chunk(
    chunk: pd.DataFrame,
    future_chunk: pd.DataFrame | None,
    horizon: int,
    freq: str,
    countries: Mapping[object, str],
    regressors: list[str] | None,
) -> pd.DataFrame:
    """Forecast every series in ``chunk``; a top-level function so spawned workers can unpickle it."""
    futures_by_series = {}
    if future_chunk is not None:
        futures_by_series = dict(list(future_chunk.groupby("series_id", sort=False)))
    results = []
    for series_id, history in chunk.groupby("series_id", sort=True):
        result = forecast_series(
            history,
            horizon,
            freq,
            country=countries.get(series_id),
            regressors=regressors,
            future_regressors=futures_by_series.get(series_id),
        )
        results.append(
            result.forecast.assign(
                series_id=series_id,
                model=result.model,
                demand_class=result.demand_class.label,
                adi=result.demand_class.adi,
                cv2=result.demand_class.cv2,
            )
        )
    return pd.concat(results, ignore_index=True)[MANY_COLUMNS]


def _row_ranges(frame: pd.DataFrame) -> dict[object, slice]:
    """Row range of each series in a frame sorted by ``series_id``."""
    ids = frame["series_id"].to_numpy()
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
) -> pd.DataFrame:
    """Forecast every series of a long frame ``series_id, date, qty[, censored, regressors...]``.

    Returns ``series_id, date, p50, p90, model, demand_class, adi, cv2``, ordered by series and date.
    ``countries`` maps a series to its country for holidays. Series are processed in chunks of
    ``chunk_size``; with ``n_jobs > 1`` the chunks run in a spawn-started process pool (spawn behaves the same
    on Linux and macOS and is safe inside a threaded host such as a Dagster run), at most a few chunks per
    worker in flight so memory stays flat. Results do not depend on ``n_jobs``. ``progress(series_done,
    series_total)`` is called after each chunk. Regressors work as in ``forecast_series``;
    ``future_regressors`` is long too (``series_id, date`` + the regressor columns).
    """
    _check_freq(freq)
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
    ranges = _row_ranges(ordered)
    series_ids = list(ranges)
    if not series_ids:
        return pd.DataFrame({column: pd.Series(dtype=object) for column in MANY_COLUMNS})

    future_ordered, future_ranges = None, {}
    if future_regressors is not None:
        _require_columns(future_regressors, ["series_id", "date", *used_regressors], "future_regressors")
        future_ordered = future_regressors[["series_id", "date", *used_regressors]].sort_values(
            "series_id", kind="stable", ignore_index=True
        )
        future_ranges = _row_ranges(future_ordered)

    def chunk_tasks() -> Iterator[tuple[int, int, tuple]]:
        for index, start in enumerate(range(0, len(series_ids), chunk_size)):
            chunk_ids = series_ids[start : start + chunk_size]
            rows = slice(ranges[chunk_ids[0]].start, ranges[chunk_ids[-1]].stop)
            future_chunk = None
            if future_ordered is not None:
                future_chunk = pd.concat(
                    [future_ordered.iloc[future_ranges[i]] for i in chunk_ids if i in future_ranges]
                    or [future_ordered.iloc[:0]]
                )
            chunk_countries = {i: countries[i] for i in chunk_ids if i in countries}
            arguments = (ordered.iloc[rows], future_chunk, horizon, freq, chunk_countries, regressors)
            yield index, len(chunk_ids), arguments

    total = len(series_ids)
    done = 0
    results: dict[int, pd.DataFrame] = {}

    def record(index: int, n_series: int, result: pd.DataFrame) -> None:
        nonlocal done
        results[index] = result
        done += n_series
        if progress is not None:
            progress(done, total)

    workers = min(n_jobs, -(-total // chunk_size))
    if workers == 1:
        for index, n_series, arguments in chunk_tasks():
            record(index, n_series, _forecast_chunk(*arguments))
    else:
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
            pending: dict[Future, tuple[int, int]] = {}

            def collect_finished() -> None:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=pending.__getitem__):
                    record(*pending.pop(future), future.result())

            try:
                for index, n_series, arguments in chunk_tasks():
                    pending[pool.submit(_forecast_chunk, *arguments)] = (index, n_series)
                    while len(pending) >= workers * _CHUNKS_IN_FLIGHT_PER_WORKER:
                        collect_finished()
                while pending:
                    collect_finished()
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise

    return pd.concat([results[index] for index in sorted(results)], ignore_index=True)
