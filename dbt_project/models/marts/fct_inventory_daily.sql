with

snapshots as (

    select * from {{ ref('int_stock_resolved') }}

),

series as (

    select
        partner_id,
        location_id,
        product_id,
        min(snapshot_date) as first_snapshot_date

    from snapshots
    group by partner_id, location_id, product_id

),

day_spine as (

    select
        partner_id,
        location_id,
        product_id,
        {{ days_between('first_snapshot_date', as_of_date()) }} as inventory_date

    from series

),

carried_forward as (

    -- Each day takes the latest snapshot counted on or before it.
    select
        day_spine.partner_id,
        day_spine.location_id,
        day_spine.product_id,
        day_spine.inventory_date,
        snapshots.on_hand_qty,
        snapshots.on_order_qty,
        snapshots.in_transit_qty,
        snapshots.uom,
        snapshots.snapshot_date as observed_date,
        snapshots.source_file_id

    from day_spine
    asof left join snapshots
        on day_spine.partner_id = snapshots.partner_id
        and day_spine.location_id = snapshots.location_id
        and day_spine.product_id = snapshots.product_id
        and day_spine.inventory_date >= snapshots.snapshot_date

),

final as (

    select

        ---------- ids
        partner_id,
        location_id,
        product_id,

        ---------- day
        inventory_date,

        ---------- stock as last known
        on_hand_qty,
        on_order_qty,
        in_transit_qty,
        uom,

        ---------- how old the knowledge is
        observed_date,
        date_diff('day', observed_date, inventory_date) as observation_age_days,
        observed_date = inventory_date as is_observed,

        ---------- lineage
        source_file_id

    from carried_forward

)

select * from final
