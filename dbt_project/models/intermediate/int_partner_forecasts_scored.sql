{#- Whole weeks back, at least the period's length: the naive period keeps its weekdays and never overlaps. -#}
{%- set naive_shift -%}
7 * cast(ceil((date_diff('day', latest_before_start.target_period_start, latest_before_start.target_period_end) + 1) / 7) as integer)
{%- endset -%}

with

forecasts as (

    select * from {{ ref('int_partner_forecasts_resolved') }}

),

daily_sales as (

    select * from {{ ref('int_sales_daily') }}

),

latest_before_start as (

    -- The forecast the partner had when the period began: the latest one whose file had reached us by the first
    -- day's night. Forecasts made later for the same period had part of the answer already, and one dated earlier
    -- that arrived later was not what the period's plan could use.
    select *
    from forecasts
    where known_on <= target_period_start
      and target_period_end <= {{ as_of_date() }}
    qualify row_number() over (
        partition by partner_id, location_id, product_id, target_period_start, target_period_end
        order by forecast_date desc
    ) = 1

),

actuals as (

    -- The period's sales, and for its seasonal naive forecast those of the same days whole weeks before (a week
    -- before a week): what the partner's forecast must beat to add value.
    select
        latest_before_start.partner_id,
        latest_before_start.location_id,
        latest_before_start.product_id,
        latest_before_start.target_period_start,
        latest_before_start.target_period_end,
        -- Summed as decimals, so the total does not depend on the order threads add the days in.
        cast(sum(cast(daily_sales.units_sold as decimal(38, 6))) filter (
            where daily_sales.sales_date >= latest_before_start.target_period_start
        ) as double) as actual_qty,
        count(*) filter (
            where daily_sales.is_stockout and daily_sales.sales_date >= latest_before_start.target_period_start
        ) as stockout_days,
        cast(sum(cast(daily_sales.units_sold as decimal(38, 6))) filter (
            where daily_sales.sales_date <= latest_before_start.target_period_end - {{ naive_shift }}
        ) as double) as naive_qty

    from latest_before_start
    inner join daily_sales
        on latest_before_start.partner_id = daily_sales.partner_id
        and latest_before_start.location_id = daily_sales.location_id
        and latest_before_start.product_id = daily_sales.product_id
        and daily_sales.sales_date between latest_before_start.target_period_start - {{ naive_shift }}
            and latest_before_start.target_period_end
    group by all

),

final as (

    select

        ---------- ids
        latest_before_start.partner_id,
        latest_before_start.location_id,
        latest_before_start.product_id,

        ---------- the period forecast and when
        latest_before_start.target_period_start,
        latest_before_start.target_period_end,
        latest_before_start.forecast_date,
        date_diff('day', latest_before_start.forecast_date, latest_before_start.target_period_start) as lag_days,

        ---------- forecast against what sold (no sales row for a day: nothing sold)
        latest_before_start.forecast_qty,
        coalesce(actuals.actual_qty, 0) as actual_qty,
        latest_before_start.forecast_qty - coalesce(actuals.actual_qty, 0) as error_qty,
        abs(latest_before_start.forecast_qty - coalesce(actuals.actual_qty, 0)) as absolute_error_qty,

        ---------- the seasonal naive forecast of the period against the same sales
        coalesce(actuals.naive_qty, 0) as naive_qty,
        abs(coalesce(actuals.naive_qty, 0) - coalesce(actuals.actual_qty, 0)) as naive_absolute_error_qty,

        ---------- censored days make actuals a floor of demand
        coalesce(actuals.stockout_days, 0) as stockout_days

    from latest_before_start
    left join actuals
        on latest_before_start.partner_id = actuals.partner_id
        and latest_before_start.location_id = actuals.location_id
        and latest_before_start.product_id = actuals.product_id
        and latest_before_start.target_period_start = actuals.target_period_start
        and latest_before_start.target_period_end = actuals.target_period_end

)

select * from final
