"""The nightly forecast over the warehouse, a chunk of series at a time, so memory follows the chunk, not the night.

1. The night's series are numbered in SQL: a temporary table holds one row per partner location x product with its
   number, its id (`partner|location|product`), the number of the engine series it belongs to (the same series at
   the location level; its partner x product at the partner level) and its partner's country. Numbers follow the
   string order of the ids, so chunks come in the order the engine sorts series in.
2. Engine series are taken `chunk_series` at a time: their rows come from DuckDB as numbers, dates, quantities and
   flags (no string per row), are aggregated to the level, forecast (in this process, a process pool or a Dask
   cluster: the ``executor``), split back to locations, and inserted with their names mapped by a join on the
   numbers. Then the chunk is dropped before the next one is read. Series an agreement of
   `marts.replenishment_policy` buckets by month are forecast in calendar months and spread back over the days
   (`forecast_by_bucket`, `monthly_buckets`); the others as before.
3. Everything happens in one transaction that starts by deleting the date's rows: a rerun of the night replaces
   them, and a failure part-way leaves the previous forecast of that date (and the newest-forecast view) as it was.

Peak memory is therefore one chunk's history and forecast (about 730 rows and 28 forecast rows per series of the
chunk) plus the workers' chunks in flight, whatever the number of series; DuckDB itself keeps to its own memory
limit. Workers never see the warehouse: only this process reads and writes it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import pandas as pd

from forecasts.forecasting.engine import ChunkExecutor, choose_models, forecast_many
from forecasts.forecasting.forecast_history import SERIES_SEPARATOR, ensure_forecast_tables, utc_now
from forecasts.forecasting.levels import LEVELS, PARTNER, aggregate_chunk, split_chunk
from forecasts.forecasting.model_choice import ClassChoice, sample_positions
from forecasts.forecasting.monthly_buckets import MONTH_BUCKET, months_to_cover, split_buckets, spread_over_days
from forecasts.forecasting.periods import DAILY, MONTHLY
from forecasts.forecasting.promotion_regressor import (
    PROMOTION,
    calendar_nights,
    chunk_promotions,
    has_promotion_days,
    series_condition,
    with_promotions,
)

# Engine series read, forecast and written at a time. A series is two years of daily rows (about 730 rows, 25 bytes
# each as numbers) and the engine copies a chunk once or twice while sorting and slicing it: some 80 KiB per series,
# so about 80 MiB per chunk of 1,000, however many series the night has.
DEFAULT_CHUNK_SERIES = 1000
SERIES_TABLE = "night_forecast_series"
POLICY_TABLE = "marts.replenishment_policy"
PREVIEW_ROWS = 10
# Engine series the night's model choice reads, evenly spread over the night (a night with fewer reads them all, so
# its choice is the one the engine makes over the whole frame at once): a default chunk's worth, read and dropped
# before the chunks, so the memory bound stays one chunk.
CHOICE_SAMPLE_SERIES = DEFAULT_CHUNK_SERIES


@dataclass
class NightForecast:
    """What a night's forecast wrote, with the small samples its metadata shows."""

    rows: int = 0
    series: int = 0
    chunks: int = 0
    by_model: Counter = field(default_factory=Counter)
    preview: pd.DataFrame = field(default_factory=pd.DataFrame)
    # The location series that sold most over the history, with its history and forecast (for a plot).
    top_series_id: str | None = None
    top_history: pd.DataFrame = field(default_factory=pd.DataFrame)
    top_forecast: pd.DataFrame = field(default_factory=pd.DataFrame)
    _top_units: float = -1.0
    # Why the promotion regressor was left out (the mart holds another night's calendar), else None.
    promotions_skipped: str | None = None
    # The model of each demand class, by frequency (`night_choices`).
    choices: dict = field(default_factory=dict)


def number_series(conn: duckdb.DuckDBPyConnection, partners: list[str], start: date, end: date, level: str) -> int:
    """Fill the temporary series table for the partners' sales between `start` and `end`; returns engine series."""
    if level not in LEVELS:
        raise ValueError(f"forecast level must be one of {', '.join(LEVELS)}, got {level!r}")
    separator = SERIES_SEPARATOR
    # A warehouse built before agreements had a forecast bucket forecasts every series by day.
    buckets = (
        f"(select partner_id, location_id, product_id, bool_or(forecast_bucket = '{MONTH_BUCKET}') as monthly "
        f"from {POLICY_TABLE} group by all)"
        if _has_bucket_column(conn)
        else "(select null as partner_id, null as location_id, null as product_id, false as monthly)"
    )
    conn.execute(
        f"""
        create or replace temp table {SERIES_TABLE} as
        with keys as (
            select distinct partner_id, location_id, product_id
            from marts.fct_sales_daily
            where partner_id in (select unnest($partners::varchar[])) and sales_date between $start and $end
        ),
        named as (
            select *,
                   concat_ws('{separator}', partner_id, location_id, product_id) as series_id,
                   case when $level = '{PARTNER}' then concat_ws('{separator}', partner_id, product_id)
                        else concat_ws('{separator}', partner_id, location_id, product_id) end as engine_series_id
            from keys
        )
        select named.*,
               dense_rank() over (order by series_id) as series_number,
               dense_rank() over (order by engine_series_id) as engine_series_number,
               countries.country, coalesce(buckets.monthly, false) as monthly
        from named
        left join (select partner_id, any_value(country) as country from marts.dim_partner group by partner_id)
            as countries using (partner_id)
        left join {buckets} as buckets using (partner_id, location_id, product_id)
        """,
        {"partners": list(partners), "start": start, "end": end, "level": level},
    )
    return int(conn.execute(f"select coalesce(max(engine_series_number), 0) from {SERIES_TABLE}").fetchone()[0])


def _has_bucket_column(conn: duckdb.DuckDBPyConnection) -> bool:
    schema, table = POLICY_TABLE.split(".")
    return bool(
        conn.execute(
            """select count(*) from information_schema.columns
               where table_catalog = current_database() and table_schema = ? and table_name = ?
                 and column_name = 'forecast_bucket'""",
            [schema, table],
        ).fetchone()[0]
    )


def _monthly_series(
    conn: duckdb.DuckDBPyConnection, first: int, last: int, numbers: list[int] | None = None
) -> set[int]:
    """Engine series of the chunk (or of `numbers`) an agreement buckets by month (at the partner level: any of its
    locations)."""
    which, parameters = series_condition(first, last, numbers)
    return {
        number
        for (number,) in conn.execute(
            f"""select engine_series_number from {SERIES_TABLE} where engine_series_number {which}
                group by engine_series_number having bool_or(monthly)""",
            parameters,
        ).fetchall()
    }


def forecast_by_bucket(
    engine_rows: pd.DataFrame,
    planned: pd.DataFrame | None,
    monthly_ids: set,
    last_day: pd.Timestamp,
    horizon: int,
    progress: Callable[[int, int], None] | None = None,
    choices: Mapping[str, Mapping[str, ClassChoice]] | None = None,
    **engine,
) -> pd.DataFrame:
    """`forecast_many` by day on the series bucketed by day, by month (`monthly_buckets`) on the others.

    Without monthly series this is exactly the daily call; with them, the daily series get the same rows as
    without (the engine forecasts series independently). Monthly series go without regressors. `choices` (by
    frequency, from `night_choices`) is the model choice of each demand class; without it each call chooses on
    its own series.
    """
    daily_choices = monthly_choices = None
    if choices is not None:
        daily_choices, monthly_choices = choices.get(DAILY, {}), choices.get(MONTHLY, {})
    if not monthly_ids:
        return forecast_many(
            engine_rows, horizon=horizon, future_regressors=planned, progress=progress, choices=daily_choices, **engine
        )
    daily_rows, months = split_buckets(engine_rows, monthly_ids, last_day)
    parts = []
    if not daily_rows.empty:
        daily_future = None if planned is None else planned[~planned["series_id"].isin(set(months["series_id"]))]
        parts.append(
            forecast_many(
                daily_rows,
                horizon=horizon,
                future_regressors=daily_future,
                progress=progress,
                choices=daily_choices,
                **engine,
            )
        )
    if not months.empty:
        engine.pop("regressors", None)
        monthly = forecast_many(
            months, horizon=months_to_cover(last_day, horizon), freq=MONTHLY, choices=monthly_choices, **engine
        )
        parts.append(spread_over_days(monthly, last_day, horizon))
        if progress is not None:
            progress(engine_rows["series_id"].nunique(), engine_rows["series_id"].nunique())
    forecast = pd.concat(parts, ignore_index=True)
    return forecast.sort_values(["series_id", "date"], kind="stable").reset_index(drop=True)


def _chunk_rows(
    conn: duckdb.DuckDBPyConnection, first: int, last: int, start: date, end: date, numbers: list[int] | None = None
) -> pd.DataFrame:
    """The rows of engine series `first` to `last`, or of the engine series `numbers` when given."""
    # Rows of a partner x product come location by location and day by day, so sums add in the same order as the
    # frame-wide aggregation did.
    which, parameters = series_condition(first, last, numbers)
    return conn.execute(
        f"""
        select k.engine_series_number as series_id, k.series_number as location_series,
               s.sales_date as date, s.units_sold as qty, s.is_stockout as censored
        from marts.fct_sales_daily as s
        join {SERIES_TABLE} as k using (partner_id, location_id, product_id)
        where k.engine_series_number {which} and s.sales_date between $start and $end
        order by k.engine_series_number, s.location_id, s.sales_date
        """,
        {**parameters, "start": start, "end": end},
    ).df()


def night_choices(
    conn: duckdb.DuckDBPyConnection,
    total: int,
    start: date,
    end: date,
    level: str,
    last_day: pd.Timestamp,
    horizon: int,
    promotions: bool = False,
) -> dict[str, dict[str, ClassChoice]]:
    """The model of each demand class for the night, by frequency (`D`, `M`): chosen once, on up to
    `CHOICE_SAMPLE_SERIES` of the night's engine series, so every chunk uses the same choice whatever its size and
    the choice costs a bounded backtest per class (`engine.CHOICE_CAP` series), not one per chunk. With `promotions`
    the sampled series the calendars put on promotion are backtested with the promotion regressor, as the chunks
    forecast them, so a class leaves Prophet only when it wins without the promotions Prophet would have used."""
    if not total:
        return {}
    numbers = [int(position) + 1 for position in sample_positions(total, CHOICE_SAMPLE_SERIES)]
    rows = _chunk_rows(conn, 1, total, start, end, numbers)
    engine_rows, planned = aggregate_chunk(rows, level), None
    if promotions:
        days, future = chunk_promotions(conn, SERIES_TABLE, 1, total, start, end, horizon, numbers)
        engine_rows, planned = with_promotions(engine_rows, rows, days, future)
    del rows
    daily_rows, months = engine_rows, engine_rows.iloc[:0]
    # Only the sampled series' buckets and countries: the whole night's would grow with the number of series.
    if monthly_ids := _monthly_series(conn, 1, total, numbers):
        daily_rows, months = split_buckets(engine_rows, monthly_ids, last_day)
        if planned is not None:
            planned = planned[~planned["series_id"].isin(set(months["series_id"]))]
    countries = _countries(conn, 1, total, numbers)
    regressors = None if planned is None else [PROMOTION]
    choices = {}
    if not daily_rows.empty:
        choices[DAILY] = choose_models(daily_rows, planned, horizon, DAILY, countries, regressors)
    if not months.empty:
        choices[MONTHLY] = choose_models(months, None, months_to_cover(last_day, horizon), MONTHLY, countries, None)
    return choices


def _countries(
    conn: duckdb.DuckDBPyConnection, first: int, last: int, numbers: list[int] | None = None
) -> dict[int, str]:
    which, parameters = series_condition(first, last, numbers)
    return dict(
        conn.execute(
            f"""select distinct engine_series_number, country from {SERIES_TABLE}
                where engine_series_number {which} and country is not null""",
            parameters,
        ).fetchall()
    )


def _names(conn: duckdb.DuckDBPyConnection, numbers: list[int]) -> dict[int, str]:
    return dict(
        conn.execute(
            f"select series_number, series_id from {SERIES_TABLE} where series_number in (select unnest(?))",
            [numbers],
        ).fetchall()
    )


def _insert(conn, forecast: pd.DataFrame, as_of_date: date, run_id: str, created_at) -> int:
    conn.register("chunk_forecast", forecast)
    try:
        conn.execute(
            f"""
            insert into forecasts.forecast_history by name
            select $as_of_date::date as as_of_date, k.partner_id, k.location_id, k.product_id, k.series_id,
                   f.date::date as forecast_date, f.p50, f.p90, f.model, f.demand_class, f.adi, f.cv2,
                   f.choice_reason, f.choice_scores, f.choice_origins, f.choice_series,
                   $run_id as run_id, $created_at::timestamp as created_at
            from chunk_forecast as f join {SERIES_TABLE} as k on k.series_number = f.series_id
            """,
            {"as_of_date": as_of_date, "run_id": run_id, "created_at": created_at},
        )
    finally:
        conn.unregister("chunk_forecast")
    return len(forecast)


def _keep_samples(result: NightForecast, conn, rows: pd.DataFrame, forecast: pd.DataFrame) -> None:
    """The preview (first rows written) and the best-selling location series so far, with names."""
    if result.preview.empty and not forecast.empty:
        head = forecast.head(PREVIEW_ROWS)
        names = _names(conn, head["series_id"].astype(int).tolist())
        result.preview = head.assign(series_id=head["series_id"].map(names)).reset_index(drop=True)
    units = rows.groupby("location_series", sort=True)["qty"].sum()
    if units.empty or float(units.max()) <= result._top_units:
        return
    number = int(units.idxmax())
    name = _names(conn, [number])[number]
    result._top_units = float(units.max())
    result.top_series_id = name
    history = rows.loc[rows["location_series"] == number, ["date", "qty"]]
    result.top_history = history.assign(series_id=name).reset_index(drop=True)
    future = forecast.loc[forecast["series_id"] == number]
    result.top_forecast = future.assign(series_id=name).reset_index(drop=True)


def forecast_warehouse(
    conn: duckdb.DuckDBPyConnection,
    *,
    partners: list[str],
    as_of_date: date,
    history_days: int,
    horizon: int,
    level: str,
    run_id: str,
    executor: ChunkExecutor | None = None,
    open_executor: Callable[[int], AbstractContextManager[ChunkExecutor | None]] | None = None,
    n_jobs: int = 1,
    chunk_series: int = DEFAULT_CHUNK_SERIES,
    task_series: int = 16,
    progress: Callable[[int, int], None] | None = None,
    promotions: bool = True,
) -> NightForecast:
    """Forecast every series of `partners` from `marts.fct_sales_daily` and store it as `as_of_date`'s forecast.

    Reads the `history_days` days up to `as_of_date`; `level` is `location` or `partner` (see `levels`). The engine
    runs on `executor` when given, or on the one `open_executor(series)` opens once the night's series are counted
    (a pool or cluster sized for them, closed at the end), else in process or on `n_jobs` worker processes per chunk
    when a chunk is large enough to pay for them. `task_series` series go to a worker at a time.
    `progress(done, total)` counts engine series over the night. With `promotions` (and the warehouse's promotion
    days mart), series the partners' calendars put on promotion get the promotion regressor (`promotion_regressor`),
    read as the mart knew them on `as_of_date`; a mart built for another night leaves the regressor out and says
    why in `promotions_skipped`.
    """
    if chunk_series < 1:
        raise ValueError(f"chunk_series must be at least 1, got {chunk_series}")
    start, end = as_of_date - timedelta(days=history_days - 1), as_of_date
    total = number_series(conn, partners, start, end, level)
    last_sales = conn.execute(
        f"""select max(s.sales_date) from marts.fct_sales_daily as s
            join {SERIES_TABLE} as k using (partner_id, location_id, product_id)
            where s.sales_date between ? and ?""",
        [start, end],
    ).fetchone()[0]
    promotions = promotions and has_promotion_days(conn)
    ensure_forecast_tables(conn)
    result = NightForecast(series=total)
    nights = calendar_nights(conn) if promotions else []
    if nights and as_of_date not in nights:
        # The mart was not rebuilt for this night: what it holds is another night's knowledge of the calendars.
        promotions = False
        held = ", ".join(str(night) for night in nights)
        result.promotions_skipped = (
            f"forecast without the promotion regressor: marts.fct_promotion_days holds the calendars as known on "
            f"{held}, not on {as_of_date}"
        )
    created_at = utc_now()
    choices = night_choices(conn, total, start, end, level, pd.Timestamp(last_sales), horizon, promotions)
    result.choices = choices
    opened = open_executor(total) if open_executor is not None and total else nullcontext(executor)
    conn.execute("begin")
    try:
        conn.execute("delete from forecasts.forecast_history where as_of_date = ?", [as_of_date])
        with opened as chunk_executor:
            for first in range(1, total + 1, chunk_series):
                last = min(first + chunk_series - 1, total)
                rows = _chunk_rows(conn, first, last, start, end)

                def chunk_progress(done: int, _: int, offset: int = first - 1) -> None:
                    if progress is not None:
                        progress(offset + done, total)

                engine_rows, planned = aggregate_chunk(rows, level), None
                if promotions:
                    days, future = chunk_promotions(conn, SERIES_TABLE, first, last, start, end, horizon)
                    engine_rows, planned = with_promotions(engine_rows, rows, days, future)
                forecast = forecast_by_bucket(
                    engine_rows,
                    planned,
                    _monthly_series(conn, first, last),
                    pd.Timestamp(last_sales),
                    horizon,
                    chunk_progress,
                    choices,
                    regressors=None if planned is None else [PROMOTION],
                    countries=_countries(conn, first, last),
                    n_jobs=n_jobs,
                    chunk_size=task_series,
                    executor=chunk_executor,
                )
                forecast = split_chunk(forecast, rows, level, pd.Timestamp(last_sales))
                forecast["series_id"] = forecast["series_id"].astype("int64")
                result.rows += _insert(conn, forecast, as_of_date, run_id, created_at)
                result.by_model.update(forecast.drop_duplicates("series_id")["model"].tolist())
                result.chunks += 1
                _keep_samples(result, conn, rows, forecast)
                del rows, forecast
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    finally:
        conn.execute(f"drop table if exists {SERIES_TABLE}")
    return result
