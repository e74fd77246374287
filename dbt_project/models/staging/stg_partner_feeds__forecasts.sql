{#- An incremental table, ranking again only the days a night's deliveries report (staged_rebuild_from). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_rebuilt_rows('forecast_date', staged_rebuild_from('forecast_date', 'partner_forecasts', 'forecast_date')) }}",
    )
}}

{%- set rebuild_from = staged_rebuild_from('forecast_date', 'partner_forecasts', 'forecast_date') %}

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
