{#-
    The daily sales the forecast, the plan and analysts read. int_sales_daily builds the days incrementally, also
    for the intermediate models that need them; the mart is a view of it, so it holds exactly the intermediate's
    rows at no cost per night (a table would copy all history every night), and a mart is never read back by an
    intermediate model.
-#}

{{ config(materialized='view') }}

with

sales_days as (

    select * from {{ ref('int_sales_daily') }}

),

final as (

    select

        ---------- ids
        partner_id,
        location_id,
        product_id,

        ---------- day
        sales_date,

        ---------- measures
        units_sold,
        units_returned,
        net_sales_amount,
        promo_flag,

        ---------- how the day was derived
        is_zero_filled,
        reported_period_days,

        ---------- censored demand: nothing on the shelf, so sales say nothing about demand
        is_reported_stockout,
        is_stockout,

        ---------- lineage
        received_at

    from sales_days

)

select * from final
