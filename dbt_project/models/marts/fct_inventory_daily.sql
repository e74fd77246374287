{#- Columns an existing table must have to be extended; one built before them is re-built whole. -#}
{%- set current_columns = ['received_at', 'is_location_counted', 'source_line', 'product_ref'] -%}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['partner_id', 'location_id', 'product_id', 'inventory_date'],
        on_schema_change='append_new_columns',
        pre_hook=[
            "{{ delete_fact_window('inventory_date', " ~ current_columns ~ ") }}",
            "{{ delete_unknown_fact_days('inventory_date', " ~ current_columns ~ ") }}",
        ],
    )
}}

{%- set incremental_run = incremental_target_is_current(current_columns) %}

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

{%- if incremental_run %}

late_counts as (

    -- Counts delivered after everything the table holds, whatever day they describe.
    select
        partner_id,
        location_id,
        product_id,
        min(snapshot_date) as first_late_date

    from snapshots
    where {{ delivered_since_last_build() }}
    group by partner_id, location_id, product_id

),

{%- endif %}

{{ rebuild_windows(incremental_run, 'first_snapshot_date', 'inventory_date', 'late_counts') }}

carried_snapshots as (

    {{ counts_carried_into('snapshots', 'rebuild_windows', incremental_run) }}

),

counted_locations as (

    -- A location the partner counted that day: an item missing from that count is news, not just silence.
    select distinct
        partner_id,
        location_id,
        snapshot_date

    from snapshots

),

day_spine as (

    select
        partner_id,
        location_id,
        product_id,
        {{ days_between('rebuild_from_date', as_of_date()) }} as inventory_date

    from rebuild_windows

),

carried_forward as (

    -- Each day takes the latest snapshot counted on or before it.
    select
        day_spine.partner_id,
        day_spine.location_id,
        day_spine.product_id,
        day_spine.inventory_date,
        carried_snapshots.on_hand_qty,
        carried_snapshots.on_order_qty,
        carried_snapshots.in_transit_qty,
        carried_snapshots.uom,
        carried_snapshots.snapshot_date as observed_date,
        carried_snapshots.source_file_id,
        carried_snapshots.source_line,
        carried_snapshots.product_ref,
        carried_snapshots.received_at,
        carried_snapshots.loaded_at

    from day_spine
    asof left join carried_snapshots
        on day_spine.partner_id = carried_snapshots.partner_id
        and day_spine.location_id = carried_snapshots.location_id
        and day_spine.product_id = carried_snapshots.product_id
        and day_spine.inventory_date >= carried_snapshots.snapshot_date

),

final as (

    select

        ---------- ids
        carried_forward.partner_id,
        carried_forward.location_id,
        carried_forward.product_id,

        ---------- day
        carried_forward.inventory_date,

        ---------- stock as last known
        carried_forward.on_hand_qty,
        carried_forward.on_order_qty,
        carried_forward.in_transit_qty,
        carried_forward.uom,

        ---------- how old the knowledge is
        carried_forward.observed_date,
        date_diff('day', carried_forward.observed_date, carried_forward.inventory_date) as observation_age_days,
        carried_forward.observed_date = carried_forward.inventory_date as is_observed,
        counted_locations.location_id is not null as is_location_counted,

        ---------- lineage
        carried_forward.source_file_id,
        carried_forward.received_at,
        carried_forward.loaded_at,
        carried_forward.source_line,
        carried_forward.product_ref

    from carried_forward
    left join counted_locations
        on carried_forward.partner_id = counted_locations.partner_id
        and carried_forward.location_id = counted_locations.location_id
        and carried_forward.inventory_date = counted_locations.snapshot_date

)

select * from final
