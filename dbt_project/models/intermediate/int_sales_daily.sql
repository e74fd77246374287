{#- Columns an existing table must have to be extended; one built before them is re-built whole. -#}
{%- set current_columns = ['received_at', 'is_reported_stockout'] -%}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['partner_id', 'location_id', 'product_id', 'sales_date'],
        on_schema_change='append_new_columns',
        pre_hook=[
            "{{ delete_fact_window('sales_date', " ~ current_columns ~ ") }}",
            "{{ delete_unknown_fact_days('sales_date', " ~ current_columns ~ ") }}",
        ],
    )
}}

{%- set incremental_run = incremental_target_is_current(current_columns) %}

with

sales as (

    select * from {{ ref('int_sales_resolved') }}

),

stock_counts as (

    select * from {{ ref('int_stock_resolved') }}

),

counted_locations as (

    -- A location the partner counted that day: an item missing from that count is news, not just silence.
    select distinct
        partner_id,
        location_id,
        snapshot_date

    from stock_counts

),

series as (

    select
        partner_id,
        location_id,
        product_id,
        min(period_start) as first_sales_date

    from sales
    group by partner_id, location_id, product_id

),

{%- if incremental_run %}

late_days as (

    -- Sales delivered after everything the table holds, and counts delivered since (they set is_stockout).
    select partner_id, location_id, product_id, period_start as late_date
    from sales
    where {{ delivered_since_last_build() }}

    union all

    select partner_id, location_id, product_id, snapshot_date as late_date
    from stock_counts
    where {{ delivered_since_last_build() }}

),

first_late_days as (

    select
        partner_id,
        location_id,
        product_id,
        min(late_date) as first_late_date

    from late_days
    group by partner_id, location_id, product_id

),

{%- endif %}

{{ rebuild_windows(incremental_run, 'first_sales_date', 'sales_date', 'first_late_days') }}

carried_counts as (

    {{ counts_carried_into('stock_counts', 'rebuild_windows', incremental_run) }}

),

spread_over_days as (

    -- A multi-day period (a weekly 852) gives each of its days an equal share; totals are kept exactly.
    select
        sales.partner_id,
        sales.location_id,
        sales.product_id,
        {{ days_between('sales.period_start', 'sales.period_end') }} as sales_date,
        sales.units_sold / sales.period_days as units_sold,
        sales.units_returned / sales.period_days as units_returned,
        sales.net_sales_amount / sales.period_days as net_sales_amount,
        sales.promo_flag,
        coalesce(sales.units_out_of_stock, 0) > 0 as is_reported_stockout,
        sales.period_days,
        sales.received_at,
        sales.loaded_at,
        sales.source_file_id,
        sales.source_line,
        rebuild_windows.rebuild_from_date

    from sales
    inner join rebuild_windows
        on sales.partner_id = rebuild_windows.partner_id
        and sales.location_id = rebuild_windows.location_id
        and sales.product_id = rebuild_windows.product_id
    where sales.period_end >= rebuild_windows.rebuild_from_date

),

reported_days as (

    select *
    from spread_over_days
    where sales_date >= rebuild_from_date
    -- Where periods overlap (a weekly total and daily figures for the same days) the finest period wins,
    -- then the latest delivery.
    qualify row_number() over (
        partition by partner_id, location_id, product_id, sales_date
        order by period_days asc, received_at desc nulls last, source_file_id desc, source_line desc nulls last
    ) = 1

),

day_spine as (

    select
        partner_id,
        location_id,
        product_id,
        {{ days_between('rebuild_from_date', as_of_date()) }} as sales_date

    from rebuild_windows

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
        coalesce(reported_days.is_reported_stockout, false) as is_reported_stockout,
        reported_days.sales_date is null as is_zero_filled,
        reported_days.period_days as reported_period_days,
        reported_days.received_at,
        reported_days.loaded_at

    from day_spine
    left join reported_days
        on day_spine.partner_id = reported_days.partner_id
        and day_spine.location_id = reported_days.location_id
        and day_spine.product_id = reported_days.product_id
        and day_spine.sales_date = reported_days.sales_date

),

inventory as (

    -- The stock as last known on each day, as fct_inventory_daily carries it forward: the latest count on or
    -- before the day (none before a series' first count).
    select
        filled.partner_id,
        filled.location_id,
        filled.product_id,
        filled.sales_date as inventory_date,
        carried_counts.on_hand_qty,
        carried_counts.snapshot_date = filled.sales_date as is_observed,
        counted_locations.location_id is not null as is_location_counted

    from filled
    asof inner join carried_counts
        on filled.partner_id = carried_counts.partner_id
        and filled.location_id = carried_counts.location_id
        and filled.product_id = carried_counts.product_id
        and filled.sales_date >= carried_counts.snapshot_date
    left join counted_locations
        on filled.partner_id = counted_locations.partner_id
        and filled.location_id = counted_locations.location_id
        and filled.sales_date = counted_locations.snapshot_date

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
        filled.is_reported_stockout,
        case
            -- The partner reported units out of stock for the period the day's figure comes from. A period's
            -- total is spread over its days, so every day's share falls short of demand, not only the empty days.
            when filled.is_reported_stockout then true
            -- No count yet: nothing tells a stock-out from a slow day.
            when inventory.on_hand_qty is null then false
            -- Counted that day at or below zero: the shelf was empty or emptied during the day.
            when inventory.is_observed then inventory.on_hand_qty <= 0
            -- Not counted that day: sales stopped and either the last count was empty or the partner's count of
            -- the location that day left the item out.
            else filled.units_sold <= 0
                and (inventory.on_hand_qty <= 0 or coalesce(inventory.is_location_counted, false))
        end as is_stockout,

        ---------- lineage
        filled.received_at,
        filled.loaded_at

    from filled
    left join inventory
        on filled.partner_id = inventory.partner_id
        and filled.location_id = inventory.location_id
        and filled.product_id = inventory.product_id
        and filled.sales_date = inventory.inventory_date

)

select * from final
