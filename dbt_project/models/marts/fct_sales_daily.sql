with

sales as (

    select * from {{ ref('int_sales_resolved') }}

),

inventory as (

    select * from {{ ref('fct_inventory_daily') }}

),

spread_over_days as (

    -- A multi-day period (a weekly 852) gives each of its days an equal share; totals are kept exactly.
    select
        partner_id,
        location_id,
        product_id,
        {{ days_between('period_start', 'period_end') }} as sales_date,
        units_sold / period_days as units_sold,
        units_returned / period_days as units_returned,
        net_sales_amount / period_days as net_sales_amount,
        promo_flag,
        period_days,
        received_at,
        source_file_id,
        source_line

    from sales

),

reported_days as (

    select *
    from spread_over_days
    -- Where periods overlap (a weekly total and daily figures for the same days) the finest period wins,
    -- then the latest delivery.
    qualify row_number() over (
        partition by partner_id, location_id, product_id, sales_date
        order by period_days asc, received_at desc nulls last, source_file_id desc, source_line desc nulls last
    ) = 1

),

series as (

    select
        partner_id,
        location_id,
        product_id,
        min(sales_date) as first_sales_date

    from reported_days
    group by partner_id, location_id, product_id

),

day_spine as (

    select
        partner_id,
        location_id,
        product_id,
        {{ days_between('first_sales_date', as_of_date()) }} as sales_date

    from series

),

filled as (

    select
        day_spine.partner_id,
        day_spine.location_id,
        day_spine.product_id,
        day_spine.sales_date,
        coalesce(reported_days.units_sold, 0) as units_sold,
        coalesce(reported_days.units_returned, 0) as units_returned,
        coalesce(reported_days.net_sales_amount, 0) as net_sales_amount,
        coalesce(reported_days.promo_flag, false) as promo_flag,
        reported_days.sales_date is null as is_zero_filled,
        reported_days.period_days as reported_period_days

    from day_spine
    left join reported_days
        on day_spine.partner_id = reported_days.partner_id
        and day_spine.location_id = reported_days.location_id
        and day_spine.product_id = reported_days.product_id
        and day_spine.sales_date = reported_days.sales_date

),

final as (

    select

        ---------- ids
        filled.partner_id,
        filled.location_id,
        filled.product_id,

        ---------- day
        filled.sales_date,

        ---------- measures
        filled.units_sold,
        filled.units_returned,
        filled.net_sales_amount,
        filled.promo_flag,

        ---------- how the day was derived
        filled.is_zero_filled,
        filled.reported_period_days,

        ---------- censored demand: nothing on the shelf, so sales say nothing about demand
        coalesce(inventory.on_hand_qty <= 0, false) as is_stockout

    from filled
    left join inventory
        on filled.partner_id = inventory.partner_id
        and filled.location_id = inventory.location_id
        and filled.product_id = inventory.product_id
        and filled.sales_date = inventory.inventory_date

)

select * from final
