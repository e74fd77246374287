{#-
    Incremental with one first day for all series (macros/incremental_window.sql, rebuild_from_date): a night
    re-builds the intervals whose count is dated in the lookback window, or on or after the first day of any count
    or daily sales row delivered since the last build (a resend of an old week, a history file, a new series) or
    of any interval holding a delivery received after the night's knowledge cut (a past night replayed). A count
    or a day's sales can only change the intervals from its own day on: the interval it falls in and, for a count,
    the one after it. Each row keeps the newest arrival and load time of everything it was worked out from (its two
    counts and its days' sales), which is how the next night tells what is new. A change of the master data the
    references resolve through re-builds it whole, as it does the resolved counts it reads.
-#}
{%- set current_columns = ['received_at', 'loaded_at'] -%}
-- The master data the post-hook's hash reads (resolve_partner_refs.sql, partner_refs_fingerprint):
-- depends_on: {{ ref('int_partner_items_known') }}, {{ ref('stg_supplier__partner_locations') }}

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_rebuilt_rows('count_date', rebuild_from_date('count_date', stock_change_deliveries(), " ~ current_columns ~ ")) }}",
        post_hook="{{ remember_partner_refs() }}",
    )
}}

{%- set rebuild_from = rebuild_from_date('count_date', stock_change_deliveries(), current_columns) %}

with

counts as (

    select
        partner_id,
        location_id,
        product_id,
        snapshot_date,
        on_hand_qty,
        received_at,
        loaded_at

    from {{ ref('int_stock_resolved') }}

),

daily_sales as (

    select * from {{ ref('int_sales_daily') }}

),

{%- if rebuild_from is not none %}

counts_before as (

    -- Each series' last count before the first day re-built: the previous count of the first interval re-built.
    select
        partner_id,
        location_id,
        product_id,
        max(snapshot_date) as snapshot_date,
        -- arg_max_null: the last count's values as they are, a missing on-hand figure included.
        arg_max_null(on_hand_qty, snapshot_date) as on_hand_qty,
        arg_max_null(received_at, snapshot_date) as received_at,
        arg_max_null(loaded_at, snapshot_date) as loaded_at

    from counts
    where snapshot_date < {{ rebuild_from }}
    group by partner_id, location_id, product_id

),

counts_read as (

    select * from counts where snapshot_date >= {{ rebuild_from }}
    union all
    select * from counts_before

),

{%- else %}

counts_read as (

    select * from counts

),

{%- endif %}

chained as (

    select
        partner_id,
        location_id,
        product_id,
        snapshot_date,
        on_hand_qty,
        received_at,
        loaded_at,
        lag(snapshot_date) over series_by_day as previous_count_date,
        lag(on_hand_qty) over series_by_day as previous_on_hand_qty,
        lag(received_at) over series_by_day as previous_received_at,
        lag(loaded_at) over series_by_day as previous_loaded_at

    from counts_read
    window series_by_day as (partition by partner_id, location_id, product_id order by snapshot_date)

),

intervals as (

    -- The first count of a series has nothing to be compared with.
    select * from chained
    where previous_count_date is not null
    {%- if rebuild_from is not none %}
        and snapshot_date >= {{ rebuild_from }}
    {%- endif %}

),

{%- if rebuild_from is not none %}

sales_read_from as (

    select
        partner_id,
        location_id,
        product_id,
        min(previous_count_date) as after_date

    from intervals
    group by partner_id, location_id, product_id

),

sales_read as (

    -- Only the days the re-built intervals cover, before they are matched to them.
    select daily_sales.*
    from daily_sales
    inner join sales_read_from
        on daily_sales.partner_id = sales_read_from.partner_id
        and daily_sales.location_id = sales_read_from.location_id
        and daily_sales.product_id = sales_read_from.product_id
        and daily_sales.sales_date > sales_read_from.after_date

),

{%- else %}

sales_read as (

    select * from daily_sales

),

{%- endif %}

sales_per_interval as (

    -- Each day's sales belong to the first count on or after that day; days at or before the previous count
    -- belong to an earlier interval.
    select
        intervals.partner_id,
        intervals.location_id,
        intervals.product_id,
        intervals.snapshot_date,
        sum(sales_read.units_sold) as units_sold,
        sum(sales_read.units_returned) as units_returned,
        count(*) filter (where not sales_read.is_zero_filled) as reported_sales_days,
        max(sales_read.received_at) as received_at,
        max(sales_read.loaded_at) as loaded_at

    from sales_read
    asof inner join intervals
        on sales_read.partner_id = intervals.partner_id
        and sales_read.location_id = intervals.location_id
        and sales_read.product_id = intervals.product_id
        and sales_read.sales_date <= intervals.snapshot_date
    where sales_read.sales_date > intervals.previous_count_date
    group by intervals.partner_id, intervals.location_id, intervals.product_id, intervals.snapshot_date

),

final as (

    select

        ---------- ids
        intervals.partner_id,
        intervals.location_id,
        intervals.product_id,

        ---------- the two counts
        intervals.snapshot_date as count_date,
        intervals.previous_count_date,
        date_diff('day', intervals.previous_count_date, intervals.snapshot_date) as days_since_previous_count,
        intervals.previous_on_hand_qty,
        intervals.on_hand_qty,

        ---------- what the partner's own sales explain (days without a sales row count as no sales)
        coalesce(sales_per_interval.units_sold, 0) as units_sold,
        coalesce(sales_per_interval.units_returned, 0) as units_returned,
        -- Days no sales row covers (a missing or quarantined file): their sales are unknown, not zero.
        date_diff('day', intervals.previous_count_date, intervals.snapshot_date)
            - coalesce(sales_per_interval.reported_sales_days, 0) as unreported_sales_days,

        ---------- what it does not: receipts, and errors
        intervals.on_hand_qty
            - (
                intervals.previous_on_hand_qty
                - coalesce(sales_per_interval.units_sold, 0)
                + coalesce(sales_per_interval.units_returned, 0)
            ) as unexplained_change_qty,

        ---------- lineage: the newest delivery the row was worked out from (both counts and the days' sales)
        greatest(intervals.received_at, intervals.previous_received_at, sales_per_interval.received_at) as received_at,
        greatest(intervals.loaded_at, intervals.previous_loaded_at, sales_per_interval.loaded_at) as loaded_at

    from intervals
    left join sales_per_interval
        on intervals.partner_id = sales_per_interval.partner_id
        and intervals.location_id = sales_per_interval.location_id
        and intervals.product_id = sales_per_interval.product_id
        and intervals.snapshot_date = sales_per_interval.snapshot_date

)

select * from final
