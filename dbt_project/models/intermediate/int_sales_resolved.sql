{#-
    Incremental by period_end, as int_stock_resolved is by snapshot_date (see there). Columns an existing table must
    have to be extended; one built before them is re-built whole.
-#}
{%- set current_columns = ['received_at', 'units_per_uom', 'product_ref', 'units_out_of_stock'] -%}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['partner_id', 'location_id', 'product_id', 'period_start', 'period_end'],
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_rebuilt_rows('period_end', rebuild_from_date('period_end', staged_days('stg_partner_feeds__sales', 'period_end'), " ~ current_columns ~ ")) }}",
        post_hook="{{ remember_partner_refs() }}",
    )
}}

{%- set rebuild_from = rebuild_from_date('period_end', staged_days('stg_partner_feeds__sales', 'period_end'), current_columns) %}

with

sales as (

    select * from {{ ref('stg_partner_feeds__sales') }}

),

partner_locations as (

    select * from {{ ref('stg_supplier__partner_locations') }}

),

known_items as (

    select * from {{ ref('int_partner_items_known') }}

),

sales_in_view as (

    -- A period is used once it is over on the business date.
    select *
    from sales
    where period_end <= {{ as_of_date() }}
      and period_start <= period_end
    {%- if rebuild_from is not none %}
      -- Only the periods ending on the days this night re-builds (a constant bound, so staging ranks only their rows).
      and period_end >= {{ rebuild_from }}
    {%- endif %}

),

resolved as (

    -- Two of a partner's references (say its SKU and the UPC) can name one product: the latest delivery wins.
    {{ resolve_partner_refs('sales_in_view', latest_per=['period_start', 'period_end']) }}

),

converted as (

    -- Sales in cases become units through the case pack; cases without one are left out here and listed in
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

        ---------- period (inclusive)
        period_start,
        period_end,
        date_diff('day', period_start, period_end) + 1 as period_days,

        ---------- measures (units; the amount is money, never converted)
        units_sold * units_per_uom as units_sold,
        units_returned * units_per_uom as units_returned,
        net_sales_amount,
        currency,
        promo_flag,
        units_received * units_per_uom as units_received,
        units_out_of_stock * units_per_uom as units_out_of_stock,

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
