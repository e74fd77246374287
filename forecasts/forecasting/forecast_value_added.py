"""Forecast value added per partner and week: does each forecast beat the one before it in the chain? (DuckDB I/O
only; no Dagster.)

``score_value_added(conn, actuals_through)`` scores into ``forecasts.forecast_value_added``, from
``forecasts.forecast_history`` and ``marts.fct_sales_daily``. For each ISO week (Monday to Sunday) the forecasts are
those the night before it made (the Sunday's run, whose plan shipped for that week), for the seven days of the week:

- **naive**: what sold the same weekday a week before (the seasonal naive MASE is scaled by);
- **statistical**: our model alone (``stat_p50``);
- **partner**: the partner's own forecast as its files had arrived by that night (``partner_p50``, its period spread
  over its days);
- **combined**: what the plan used (``p50``: ours, the partner's or their blend, see ``partner_evidence``).

They are scored on the same series-days: days of the week up to ``actuals_through`` with a sales row and no
stock-out (censored demand is not scored), of series the partner had forecast that night. WAPE = Σ|ŷ − y| / Σy and
bias = Σ(ŷ − y) / Σy, as in ``forecasts.forecast_accuracy``; the sums are kept so weeks and partners pool exactly.
Value added is the WAPE points a forecast takes off the one it is measured against (positive: it adds value).
"""

from __future__ import annotations

from datetime import date

import duckdb

from orchestration.runtime.warehouse_tables import keep_most_actuals, table_exists

VALUE_ADDED_TABLE = "forecasts.forecast_value_added"
SOURCES = ("naive", "statistical", "partner", "combined")


def _per_source(*templates: str) -> str:
    """Each template (``{s}`` = the forecast's name) for every forecast, as a list of SQL select items."""
    return ",\n        ".join(template.format(s=source) for source in SOURCES for template in templates)


_SUMS = _per_source(
    "sum({s}) as {s}_units", "sum(abs({s} - actual)) as {s}_abs_error", "sum({s} - actual) as {s}_error"
)
_SUM_NAMES = _per_source("{s}_units", "{s}_abs_error", "{s}_error")
_RATIOS = _per_source(
    "{s}_abs_error / nullif(actual_units, 0) as {s}_wape", "{s}_error / nullif(actual_units, 0) as {s}_bias"
)


_VALUE_ADDED_SQL = f"""
with

runs as (

    -- The Sunday night's forecast of the following Monday to Sunday, where the partner had sent one for the day.
    select
        partner_id, location_id, product_id, as_of_date, forecast_date,
        cast(as_of_date + 1 as date) as week_start,
        coalesce(stat_p50, p50) as statistical,
        partner_p50 as partner,
        p50 as combined
    from forecasts.forecast_history
    where dayofweek(as_of_date) = 0
      and forecast_date between as_of_date + 1 and as_of_date + 7
      and forecast_date <= $actuals_through
      and partner_p50 is not null

),

scored as (

    select
        runs.*,
        sales.units_sold as actual,
        coalesce(last_week.units_sold, 0) as naive
    from runs
    inner join marts.fct_sales_daily as sales
        on sales.partner_id = runs.partner_id
        and sales.location_id = runs.location_id
        and sales.product_id = runs.product_id
        and sales.sales_date = runs.forecast_date
    left join marts.fct_sales_daily as last_week
        on last_week.partner_id = runs.partner_id
        and last_week.location_id = runs.location_id
        and last_week.product_id = runs.product_id
        and last_week.sales_date = runs.forecast_date - 7
    where not coalesce(sales.is_stockout, false)

),

weeks as (

    select
        partner_id,
        week_start,
        any_value(as_of_date) as forecast_as_of,
        count(*) as series_days,
        count(distinct (location_id, product_id)) as series,
        sum(actual) as actual_units,
        {_SUMS}
    from scored
    group by partner_id, week_start

)

select
    partner_id,
    week_start,
    strftime(week_start, '%G-W%V') as iso_week,
    cast(week_start + 6 as date) as week_end,
    week_start + 6 <= $actuals_through as is_complete_week,
    forecast_as_of,
    series,
    series_days,
    actual_units,
    {_SUM_NAMES},
    {_RATIOS},
    naive_wape - statistical_wape as value_added_statistical,
    naive_wape - partner_wape as value_added_partner,
    least(statistical_wape, partner_wape) - combined_wape as value_added_combined,
    $actuals_through::date as actuals_through
from weeks
order by partner_id, week_start
"""


def score_value_added(conn: duckdb.DuckDBPyConnection, actuals_through: date) -> int:
    """Score every week from the stored forecasts and the sales known through ``actuals_through``; a week already
    scored with as many sales or more (a later night's) is kept, so a rerun of a past night changes nothing.
    Returns the table's rows (0, and no table, before any forecast history)."""
    if not table_exists(conn, "forecasts.forecast_history") or not table_exists(conn, "marts.fct_sales_daily"):
        return 0
    # A week keeps the score made with the most sales known: rerunning a past night leaves later scores alone.
    keep_most_actuals(
        conn,
        VALUE_ADDED_TABLE,
        _VALUE_ADDED_SQL,
        {"actuals_through": actuals_through},
        ["partner_id", "week_start"],
        create=True,
    )
    return int(conn.execute(f"select count(*) from {VALUE_ADDED_TABLE}").fetchone()[0])
