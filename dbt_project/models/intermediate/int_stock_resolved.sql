{#-
    Incremental with the daily facts' rule (macros/incremental_window.sql, rebuild_from_date): a night re-builds the
    rows dated in the lookback window and back to the first day of any file received or loaded since the last
    build, not all history; a change of the master data the references resolve through re-builds it whole. Columns an
    existing table must have to be extended; one built before them is re-built whole.
-#}
{%- set current_columns = ['received_at', 'units_per_uom', 'product_ref'] -%}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['partner_id', 'location_id', 'product_id', 'snapshot_date'],
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_rebuilt_rows('snapshot_date', rebuild_from_date('snapshot_date', staged_days('stg_partner_feeds__stock', 'snapshot_date'), " ~ current_columns ~ ")) }}",
        post_hook="{{ remember_partner_refs() }}",
    )
}}

{%- set rebuild_from = rebuild_from_date('snapshot_date', staged_days('stg_partner_feeds__stock', 'snapshot_date'), current_columns) %}

with

stock as (

    select * from {{ ref('stg_partner_feeds__stock') }}

),

partner_locations as (

    select * from {{ ref('stg_supplier__partner_locations') }}

),

known_items as (

    select * from {{ ref('int_partner_items_known') }}

),

stock_in_view as (

    select *
    from stock
    where snapshot_date <= {{ as_of_date() }}
    {%- if rebuild_from is not none %}
      -- Only the days this night re-builds (a constant bound, so staging ranks only their rows).
      and snapshot_date >= {{ rebuild_from }}
    {%- endif %}

),

resolved as (

    -- Two of a partner's references (say its SKU and the UPC) can name one product: the latest delivery wins.
    {{ resolve_partner_refs('stock_in_view', latest_per=['snapshot_date']) }}

),

converted as (

    -- Counts in cases become units through the case pack; cases without one are left out here and listed in
    -- int_feed_rows_unresolved. Any other unit stays as sent.
    select
        *,
        {{ units_per_uom('uom', 'file_format', 'case_pack') }} as units_per_uom

    from resolved

),

final as (

    select

        ---------- ids
        partner_id,
        location_id,
        product_id,
        product_ref,

        ---------- dates
        snapshot_date,

        ---------- quantities (units)
        on_hand_qty * units_per_uom as on_hand_qty,
        on_order_qty * units_per_uom as on_order_qty,
        in_transit_qty * units_per_uom as in_transit_qty,
        case when {{ is_case_uom('uom', 'file_format') }} then 'ea' else uom end as uom,

        ---------- lineage: the unit as sent and the factor applied
        uom as uom_as_sent,
        units_per_uom,
        merged_lines,
        source_file_id,
        source_line,
        received_at,
        loaded_at

    from converted
    where units_per_uom is not null

)

select * from final
