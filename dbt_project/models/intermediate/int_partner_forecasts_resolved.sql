{#-
    Incremental by forecast_date, as int_stock_resolved is by snapshot_date (see there). Columns an existing table
    must have to be extended; one built before them is re-built whole.
-#}
{%- set current_columns = ['received_at', 'known_on'] -%}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['partner_id', 'location_id', 'product_id', 'forecast_date', 'target_period_start', 'target_period_end'],
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_rebuilt_rows('forecast_date', rebuild_from_date('forecast_date', staged_days('stg_partner_feeds__forecasts', 'forecast_date'), " ~ current_columns ~ ")) }}",
        post_hook="{{ remember_partner_refs() }}",
    )
}}

{%- set rebuild_from = rebuild_from_date('forecast_date', staged_days('stg_partner_feeds__forecasts', 'forecast_date'), current_columns) %}

with

forecasts as (

    select * from {{ ref('stg_partner_feeds__forecasts') }}

),

partner_locations as (

    select * from {{ ref('stg_supplier__partner_locations') }}

),

known_items as (

    select * from {{ ref('int_partner_items_known') }}

),

forecasts_in_view as (

    -- Forecasts made by the business date; their target periods naturally lie ahead.
    select *
    from forecasts
    where forecast_date <= {{ as_of_date() }}
      and target_period_start <= target_period_end
    {%- if rebuild_from is not none %}
      -- Only the forecasts issued on the days this night re-builds.
      and forecast_date >= {{ rebuild_from }}
    {%- endif %}

),

resolved as (

    -- Two of a partner's references (say its SKU and the UPC) can name one product: the latest delivery wins.
    {{ resolve_partner_refs('forecasts_in_view', latest_per=['forecast_date', 'target_period_start', 'target_period_end']) }}

),

final as (

    select

        ---------- ids
        partner_id,
        location_id,
        product_id,
        product_ref,

        ---------- dates
        forecast_date,
        -- The first night that had the forecast: its file had arrived and it had been issued.
        {{ known_on('received_at', 'forecast_date') }} as known_on,
        target_period_start,
        target_period_end,

        ---------- measures
        forecast_qty,

        ---------- lineage
        source_file_id,
        source_line,
        received_at,
        loaded_at

    from resolved

)

select * from final
