{#-
    A table kept up to date night by night (macros/incremental_window.sql, rebuild_from_date): each night deletes
    and ranks again only the rows dated from the first day the night's new deliveries report (or, on a replayed
    earlier night, the first day of its rows received after that night's cut), so the models and tests
    downstream read the ranked rows instead of ranking every raw row ever received. Columns an existing
    table must have to be extended; one built before them is re-built whole. The pre-hook deletes every row from
    the first day re-built, so the new rows are appended.
-#}
{%- set current_columns = ['received_at', 'loaded_at'] -%}
{%- set deliveries = staged_deliveries('partner_forecasts', 'forecast_date') -%}

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_rebuilt_rows('forecast_date', rebuild_from_date('forecast_date', staged_deliveries('partner_forecasts', 'forecast_date'), " ~ current_columns ~ ", lookback=false, partner_refs=false)) }}",
    )
}}

{%- set rebuild_from = rebuild_from_date('forecast_date', deliveries, current_columns, lookback=false, partner_refs=false) %}

with

source as (

    select * from {{ source('raw', 'partner_forecasts') }}

),

feed_files as (

    select * from {{ ref('stg_partner_feeds__feed_files') }}

),

renamed as (

    select

        ---------- ids
        trim(partner_id) as partner_id,
        trim(location_id) as location_id,
        trim(product_ref) as product_ref,

        ---------- dates
        cast(forecast_date as date) as forecast_date,
        cast(target_period_start as date) as target_period_start,
        cast(target_period_end as date) as target_period_end,

        ---------- measures
        cast(forecast_qty as double) as forecast_qty,

        ---------- lineage
        source_file_id,
        cast(source_line as integer) as source_line

    from source
    {%- if rebuild_from is not none %}
    -- Only the days this night re-builds: a constant bound, applied before each key's rows are ranked.
    where cast(forecast_date as date) >= {{ rebuild_from }}
    {%- endif %}

),

final as (

    -- One forecast per item, location, issue date and target period: a corrected resend supersedes the earlier one.
    {{ latest_loaded_delivery(
        'renamed',
        'feed_files',
        ['partner_id', 'location_id', 'product_ref', 'forecast_date', 'target_period_start', 'target_period_end']
    ) }}

)

select * from final
