"""Forecast accuracy after the fact: every stored forecast run scored against the sales that arrived since
(DuckDB I/O only; no Dagster).

``score_forecast_history(conn, as_of_date)`` (re)builds ``forecasts.forecast_accuracy`` from
``forecasts.forecast_history`` and ``marts.fct_sales_daily``: one row per forecast run (its ``as_of_date``) and
series, scoring the run's forecast days up to ``actuals_through`` (the date passed: the last day whose sales are
known). Rows hold sums, so any level can be aggregated exactly; the ratios are there for convenience.

Definitions (p50 is the point forecast ŷ, y the units sold; sums run over the scored days):

- **scored day**: a forecast day on or before ``actuals_through`` with a sales row and no stock-out. Stock-out
  days are censored demand: what sold is not what was wanted, so they are counted (``periods_censored``) but not
  scored.
- **WAPE** = Σ|y − ŷ| / Σy (``abs_error / actual_units``); NULL when nothing sold.
- **bias** = Σ(ŷ − y) / Σy (``error / actual_units``): positive when the forecast was too high.
- **MASE** = (Σ|y − ŷ| / scored days) / ``mase_scale``, where ``mase_scale`` is the mean of |y[d] − y[d − 7]|
  over the 365 days up to the run's as-of date (pairs with a stock-out on either day left out): the in-sample
  error of a same-weekday-last-week forecast. Below 1 beats that naive forecast. NULL when the scale is 0.
- **pinball_p90** = mean of max(0.9·(y − p90), 0.1·(p90 − y)), and **p90_coverage** = share of scored days with
  y ≤ p90 (0.9 when p90 is calibrated).

Aggregates: WAPE and bias of a group are Σabs_error / Σactual_units and Σerror / Σactual_units (not means of
row ratios); MASE of a group is the mean of its rows' MASE. The views ``forecasts.forecast_accuracy_by_partner``
and ``forecasts.forecast_accuracy_by_model`` do exactly that per as-of date.

Idempotent: a call rescores every stored run against the sales known now (so late corrections of sales are
picked up) and replaces those runs' rows — except rows already scored with later actuals (a backfill of an
older date does not make the table forget newer sales).

Memory follows a block of ``block_series`` series (the forecast's ``chunk_series``), not the warehouse: the series
are numbered into blocks in a temporary table, and the scoring query, joined to one block, runs and writes block
after block in one transaction, so DuckDB holds one block's forecasts, sales and seasonal differences at a time. A
series' rows all fall in its block, so its scores are those of a query over everything.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import duckdb

from orchestration.runtime.warehouse_tables import keep_most_actuals, numbered_blocks, table_exists

ACCURACY_TABLE = "forecasts.forecast_accuracy"
# Series scored at a time (the nightly forecast's chunk): DuckDB then holds one block's forecasts, sales and
# seasonal differences, not the warehouse's.
DEFAULT_BLOCK_SERIES = 1000
_BLOCKS = "accuracy_series"
_SCORED_SERIES_SQL = (
    "select distinct partner_id, location_id, product_id from forecasts.forecast_history "
    "where as_of_date < $actuals_through"
)
MASE_SEASON_DAYS = 7
MASE_WINDOW_DAYS = 365

_COLUMNS = """
    as_of_date date, partner_id varchar, location_id varchar, product_id varchar, series_id varchar,
    model varchar, demand_class varchar, actuals_through date, forecast_days integer, periods_due integer,
    periods_scored integer, periods_censored integer, horizon_complete boolean, first_scored_date date,
    last_scored_date date, actual_units double, forecast_units double, abs_error double, error double,
    pinball_p90_sum double, p90_hits integer, mase_scale double, wape double, bias double, mase double,
    pinball_p90 double, p90_coverage double
"""

_COLUMN_COMMENTS = {
    "as_of_date": "As-of date of the forecast run scored (forecast_history.as_of_date).",
    "actuals_through": "Last sales date known when the row was scored.",
    "forecast_days": "Days in the run's forecast horizon for this series.",
    "periods_due": "Forecast days on or before actuals_through.",
    "periods_scored": "Due days with a sales row and no stock-out: the days the metrics are computed on.",
    "periods_censored": "Due days with a stock-out: censored demand, not scored.",
    "horizon_complete": "Every forecast day of the run is due: the scores are final unless sales are restated.",
    "actual_units": "Sum of units sold over the scored days (Σy).",
    "forecast_units": "Sum of p50 over the scored days (Σŷ).",
    "abs_error": "Σ|y − p50| over the scored days.",
    "error": "Σ(p50 − y) over the scored days; positive = over-forecast.",
    "pinball_p90_sum": "Σ max(0.9·(y − p90), 0.1·(p90 − y)) over the scored days.",
    "p90_hits": "Scored days with y ≤ p90.",
    "mase_scale": "Mean |y[d] − y[d−7]| over the 365 days to the run's as-of date, stock-out pairs left out.",
    "wape": "abs_error / actual_units (NULL when nothing sold).",
    "bias": "error / actual_units (NULL when nothing sold).",
    "mase": "(abs_error / periods_scored) / mase_scale; below 1 beats a same-weekday-last-week forecast.",
    "pinball_p90": "pinball_p90_sum / periods_scored.",
    "p90_coverage": "p90_hits / periods_scored; 0.9 when p90 is calibrated.",
}

_SCORE_SQL = f"""
with

forecast as (

    select as_of_date, partner_id, location_id, product_id, series_id, forecast_date, p50, p90, model, demand_class
    from forecasts.forecast_history
    join {_BLOCKS} as block using (partner_id, location_id, product_id)
    where as_of_date < $actuals_through and block.block = $block

),

sales as (

    select partner_id, location_id, product_id, sales_date, units_sold, coalesce(is_stockout, false) as is_stockout
    from marts.fct_sales_daily
    join {_BLOCKS} as block using (partner_id, location_id, product_id)
    where sales_date <= $actuals_through and block.block = $block

),

forecast_days as (

    select
        forecast.*,
        forecast.forecast_date <= $actuals_through as is_due,
        sales.units_sold as actual,
        coalesce(sales.is_stockout, false) as is_stockout,
        sales.sales_date is not null and not coalesce(sales.is_stockout, false) as is_scored
    from forecast
    left join sales
        on sales.partner_id = forecast.partner_id
        and sales.location_id = forecast.location_id
        and sales.product_id = forecast.product_id
        and sales.sales_date = forecast.forecast_date

),

runs as (

    select
        as_of_date,
        partner_id,
        location_id,
        product_id,
        any_value(series_id) as series_id,
        any_value(model) as model,
        any_value(demand_class) as demand_class,
        -- sizes of the window
        count(*) as forecast_days,
        count(*) filter (where is_due) as periods_due,
        count(*) filter (where is_due and is_scored) as periods_scored,
        count(*) filter (where is_due and is_stockout) as periods_censored,
        min(forecast_date) filter (where is_due and is_scored) as first_scored_date,
        max(forecast_date) filter (where is_due and is_scored) as last_scored_date,
        -- sums the metrics are made of
        coalesce(sum(actual) filter (where is_due and is_scored), 0) as actual_units,
        coalesce(sum(p50) filter (where is_due and is_scored), 0) as forecast_units,
        coalesce(sum(abs(actual - p50)) filter (where is_due and is_scored), 0) as abs_error,
        coalesce(sum(p50 - actual) filter (where is_due and is_scored), 0) as error,
        coalesce(
            sum(greatest(0.9 * (actual - p90), 0.1 * (p90 - actual))) filter (where is_due and is_scored), 0
        ) as pinball_p90_sum,
        count(*) filter (where is_due and is_scored and actual <= p90) as p90_hits
    from forecast_days
    group by as_of_date, partner_id, location_id, product_id
    having count(*) filter (where is_due) > 0

),

seasonal_differences as (

    select
        today.partner_id,
        today.location_id,
        today.product_id,
        today.sales_date,
        abs(today.units_sold - last_week.units_sold) as abs_difference
    from sales as today
    join sales as last_week
        on last_week.partner_id = today.partner_id
        and last_week.location_id = today.location_id
        and last_week.product_id = today.product_id
        and last_week.sales_date = today.sales_date - {MASE_SEASON_DAYS}
    where not today.is_stockout and not last_week.is_stockout

),

running_differences as (

    select
        partner_id,
        location_id,
        product_id,
        sales_date,
        sum(abs_difference) over series_to_date as difference_sum,
        count(*) over series_to_date as difference_count
    from seasonal_differences
    window series_to_date as (
        partition by partner_id, location_id, product_id
        order by sales_date
        rows between unbounded preceding and current row
    )

),

scales as (

    -- Differences in the window (as_of - 365, as_of] = running totals at as_of minus those at as_of - 365.
    select
        runs.as_of_date,
        runs.partner_id,
        runs.location_id,
        runs.product_id,
        (window_end.difference_sum - coalesce(window_start.difference_sum, 0))
            / nullif(window_end.difference_count - coalesce(window_start.difference_count, 0), 0) as mase_scale
    from runs
    asof left join running_differences as window_end
        on window_end.partner_id = runs.partner_id
        and window_end.location_id = runs.location_id
        and window_end.product_id = runs.product_id
        and runs.as_of_date >= window_end.sales_date
    asof left join running_differences as window_start
        on window_start.partner_id = runs.partner_id
        and window_start.location_id = runs.location_id
        and window_start.product_id = runs.product_id
        and runs.as_of_date - {MASE_WINDOW_DAYS} >= window_start.sales_date

),

final as (

    select
        runs.as_of_date,
        runs.partner_id,
        runs.location_id,
        runs.product_id,
        runs.series_id,
        runs.model,
        runs.demand_class,
        cast($actuals_through as date) as actuals_through,
        runs.forecast_days,
        runs.periods_due,
        runs.periods_scored,
        runs.periods_censored,
        runs.periods_due = runs.forecast_days as horizon_complete,
        runs.first_scored_date,
        runs.last_scored_date,
        runs.actual_units,
        runs.forecast_units,
        runs.abs_error,
        runs.error,
        runs.pinball_p90_sum,
        runs.p90_hits,
        scales.mase_scale,
        -- ratios
        runs.abs_error / nullif(runs.actual_units, 0) as wape,
        runs.error / nullif(runs.actual_units, 0) as bias,
        runs.abs_error / nullif(runs.periods_scored, 0) / nullif(scales.mase_scale, 0) as mase,
        runs.pinball_p90_sum / nullif(runs.periods_scored, 0) as pinball_p90,
        runs.p90_hits / nullif(runs.periods_scored, 0) as p90_coverage
    from runs
    left join scales using (as_of_date, partner_id, location_id, product_id)

)

select * from final
"""

_GROUP_VIEW_SQL = """
create or replace view {view} as
select
    as_of_date,
    {keys},
    count(*) as series,
    sum(periods_scored) as periods_scored,
    bool_and(horizon_complete) as horizon_complete,
    sum(abs_error) / nullif(sum(actual_units), 0) as wape,
    sum(error) / nullif(sum(actual_units), 0) as bias,
    avg(mase) as mase,
    sum(pinball_p90_sum) / nullif(sum(periods_scored), 0) as pinball_p90,
    sum(p90_hits) / nullif(sum(periods_scored), 0) as p90_coverage
from forecasts.forecast_accuracy
group by all
"""


def _create_objects(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute("create schema if not exists forecasts")
    conn.execute(f"create table if not exists {ACCURACY_TABLE} ({_COLUMNS})")
    conn.execute(
        f"comment on table {ACCURACY_TABLE} is 'Forecast runs scored against the sales that arrived since: "
        "one row per as-of date and series (see forecasts/forecasting/accuracy.py for the metric definitions).'"
    )
    for column, text in _COLUMN_COMMENTS.items():
        quoted = text.replace("'", "''")
        conn.execute(f"comment on column {ACCURACY_TABLE}.{column} is '{quoted}'")
    conn.execute(_GROUP_VIEW_SQL.format(view="forecasts.forecast_accuracy_by_partner", keys="partner_id"))
    conn.execute(_GROUP_VIEW_SQL.format(view="forecasts.forecast_accuracy_by_model", keys="model"))


def score_forecast_history(
    conn: duckdb.DuckDBPyConnection,
    as_of_date: date,
    *,
    block_series: int = DEFAULT_BLOCK_SERIES,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Score every stored forecast run against the sales known up to ``as_of_date`` into
    ``forecasts.forecast_accuracy``, ``block_series`` series at a time; returns the rows written.
    ``progress(blocks_done, blocks)`` is called after each block.

    Runs made on or after ``as_of_date`` have nothing to score yet. Creates the table and its two views when
    missing, so it can run before the first forecast is stored (it then writes nothing).
    """
    if block_series < 1:
        raise ValueError(f"block_series must be at least 1, got {block_series}")
    _create_objects(conn)
    if not table_exists(conn, "forecasts.forecast_history"):
        return 0
    # Every series' rows (its runs, its sales) fall in one block: a series is scored as it would be on its own.
    parameters = {"actuals_through": as_of_date}
    with numbered_blocks(conn, _BLOCKS, _SCORED_SERIES_SQL, parameters, block_size=block_series) as blocks:
        # A run keeps the score made with the most sales known: rerunning a past night leaves later scores alone.
        return keep_most_actuals(
            conn,
            ACCURACY_TABLE,
            _SCORE_SQL,
            parameters,
            ["as_of_date", "partner_id", "location_id", "product_id"],
            blocks=blocks,
            progress=progress,
        )
