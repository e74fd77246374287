"""The promotion regressor of the nightly forecast: which days of a series are on promotion, past and planned.

A series gets the regressor when the partners' calendars (``marts.fct_promotion_days``, the plan as the night knows
it) put it on promotion somewhere between the first history day and the end of the horizon, and its history holds
at least one promotion day to learn the effect from. Its history values are 1 on days the sales rows flag a
promotion (``promo_flag``, where the partner reports it) or the calendar does, else 0; its future values come from
the calendar. Every other series is forecast without it, exactly as before.

Rows are read per chunk of numbered engine series (see ``warehouse_forecast``); at the partner level an engine
series is on promotion on a day when any of its locations is, and it is learnable when any of its locations has a
promotion day in its history (a store-only promotion planned at another store still counts).

Only the rows the mart holds for the night's own date (``known_on``) are read: a mart last built for another night
holds that night's knowledge, and :func:`calendar_nights` lets the forecast see that and run without the regressor.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd

PROMOTION = "promotion"
PROMOTION_DAYS_TABLE = "marts.fct_promotion_days"
FUTURE_LEAD_DAYS = 14


def has_promotion_days(conn: duckdb.DuckDBPyConnection) -> bool:
    """True when the warehouse has the promotion days mart (a warehouse built before it has none)."""
    schema, table = PROMOTION_DAYS_TABLE.split(".")
    return bool(
        conn.execute(
            """select count(*) from duckdb_tables()
               where database_name = current_database() and schema_name = ? and table_name = ?""",
            [schema, table],
        ).fetchone()[0]
    )


def calendar_nights(conn: duckdb.DuckDBPyConnection) -> list[date]:
    """The nights (``known_on``) whose calendars the promotion days mart holds: one after a build, none when empty."""
    rows = conn.execute(f"select distinct known_on from {PROMOTION_DAYS_TABLE} order by 1").fetchall()
    return [row[0] for row in rows]


def series_condition(first: int, last: int, numbers: list[int] | None = None) -> tuple[str, dict]:
    """The condition on ``engine_series_number`` (and its parameters) for engine series ``first`` to ``last``, or
    for the engine series ``numbers`` when given."""
    if numbers is None:
        return "between $first and $last", {"first": first, "last": last}
    return "in (select unnest($numbers::bigint[]))", {"numbers": numbers}


def chunk_promotions(
    conn: duckdb.DuckDBPyConnection,
    series_table: str,
    first: int,
    last: int,
    start: date,
    end: date,
    horizon: int,
    numbers: list[int] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """History and future promotion days of the chunk's location series (or of engine series ``numbers``) that get
    the regressor, as night ``end`` knew them (rows of the mart ``known_on`` that date).

    Returns ``(history, future)``: ``history`` has ``location_series, date`` for each promotion day up to ``end``
    (sales flag or calendar); ``future`` has ``series_id`` (engine series), ``location_series, date, promotion``
    for every day of the horizon of those series (1 on a calendar promotion day, else 0).
    """
    future_end = end + timedelta(days=horizon)
    which, chunk = series_condition(first, last, numbers)
    chunk |= {"start": start, "future_end": future_end, "as_of": end}
    calendar = f"""
        select k.engine_series_number, k.series_number, p.promo_date
        from {PROMOTION_DAYS_TABLE} as p
        join {series_table} as k using (partner_id, location_id, product_id)
        where k.engine_series_number {which} and p.promo_date between $start and $future_end
          and p.known_on = $as_of
    """
    history = conn.execute(
        f"""
        with calendar as ({calendar}),
        flagged as (
            select k.engine_series_number, k.series_number, s.sales_date as promo_date
            from marts.fct_sales_daily as s
            join {series_table} as k using (partner_id, location_id, product_id)
            where k.engine_series_number {which} and s.sales_date between $start and $as_of
              and s.promo_flag
        ),
        days as (
            select engine_series_number, series_number, promo_date from calendar where promo_date <= $as_of
            union
            select engine_series_number, series_number, promo_date from flagged
        )
        select series_number as location_series, promo_date as date
        from days
        -- Only engine series a calendar touches: a flag alone gives no planned days to forecast with.
        where engine_series_number in (select engine_series_number from calendar)
        order by 1, 2
        """,
        chunk,
    ).df()
    # A series' forecast starts the day after its last sales day, which may lie a little before the night's date.
    future = conn.execute(
        f"""
        with calendar as ({calendar}),
        horizon_days as (
            select k.engine_series_number, k.series_number, cast(d.day as date) as day
            from {series_table} as k,
                 unnest(generate_series(cast($future_start as timestamp), cast($future_end as timestamp),
                                        interval 1 day)) as d(day)
            where k.engine_series_number {which}
              and k.engine_series_number in (select engine_series_number from calendar)
        )
        select h.engine_series_number as series_id, h.series_number as location_series, h.day as date,
               cast(c.promo_date is not null as double) as {PROMOTION}
        from horizon_days as h
        left join calendar as c on c.series_number = h.series_number and c.promo_date = h.day
        order by 1, 2, 3
        """,
        chunk | {"future_start": end - timedelta(days=FUTURE_LEAD_DAYS)},
    ).df()
    # Learnable per engine series: at the partner level the chain's history teaches the effect of any store's days.
    learned = future["location_series"].isin(set(history["location_series"]))
    learnable = set(future.loc[learned, "series_id"])
    return history, future[future["series_id"].isin(learnable)].reset_index(drop=True)


def with_promotions(
    engine_rows: pd.DataFrame, rows: pd.DataFrame, history: pd.DataFrame, future: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The engine's rows with a ``promotion`` column, and its future values by engine series (None when none).

    ``rows`` are the chunk's location rows (``series_id`` engine series, ``location_series``, ``date``); at the
    partner level an engine series is on promotion when any of its locations is.
    """
    if future.empty:
        return engine_rows, None
    days = history.assign(date=_days(history["date"]), **{PROMOTION: 1.0})
    on_location = rows[["series_id", "location_series", "date"]].assign(date=_days(rows["date"]))
    on_location = on_location.merge(days, on=["location_series", "date"], how="left")
    # An engine series is one location series at the location level, all of a product's at the partner level.
    flags = on_location.groupby(["series_id", "date"], as_index=False, sort=False)[PROMOTION].max()
    engine = engine_rows.assign(date=_days(engine_rows["date"])).merge(flags, on=["series_id", "date"], how="left")
    engine[PROMOTION] = engine[PROMOTION].fillna(0.0)
    planned = future.assign(date=_days(future["date"]))
    planned = planned.groupby(["series_id", "date"], as_index=False, sort=False)[PROMOTION].max()
    return engine, planned


def _days(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).astype("datetime64[ns]")
