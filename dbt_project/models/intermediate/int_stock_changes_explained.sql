with

counts as (

    select * from {{ ref('int_stock_resolved') }}

),

daily_sales as (

    select * from {{ ref('int_sales_daily') }}

),

chained as (

    select
        partner_id,
        location_id,
        product_id,
        snapshot_date,
        on_hand_qty,
        lag(snapshot_date) over series_by_day as previous_count_date,
        lag(on_hand_qty) over series_by_day as previous_on_hand_qty

    from counts
    window series_by_day as (partition by partner_id, location_id, product_id order by snapshot_date)

),

intervals as (

    -- The first count of a series has nothing to be compared with.
    select * from chained where previous_count_date is not null

),

sales_per_interval as (

    -- Each day's sales belong to the first count on or after that day; days at or before the previous count
    -- belong to an earlier interval.
    select
        intervals.partner_id,
        intervals.location_id,
        intervals.product_id,
        intervals.snapshot_date,
        sum(daily_sales.units_sold) as units_sold,
        sum(daily_sales.units_returned) as units_returned,
        count(*) filter (where not daily_sales.is_zero_filled) as reported_sales_days

    from daily_sales
    asof inner join intervals
        on daily_sales.partner_id = intervals.partner_id
        and daily_sales.location_id = intervals.location_id
        and daily_sales.product_id = intervals.product_id
        and daily_sales.sales_date <= intervals.snapshot_date
    where daily_sales.sales_date > intervals.previous_count_date
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
            ) as unexplained_change_qty

    from intervals
    left join sales_per_interval
        on intervals.partner_id = sales_per_interval.partner_id
        and intervals.location_id = sales_per_interval.location_id
        and intervals.product_id = sales_per_interval.product_id
        and intervals.snapshot_date = sales_per_interval.snapshot_date

)

select * from final
