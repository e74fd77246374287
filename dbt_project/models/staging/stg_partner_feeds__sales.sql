{#- An incremental table, ranking again only the days a night's deliveries report (staged_rebuild_from). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_rebuilt_rows('period_end', staged_rebuild_from('period_end', 'sales', 'period_end')) }}",
    )
}}

{%- set rebuild_from = staged_rebuild_from('period_end', 'sales', 'period_end') %}

with

source as (

    select * from {{ source('raw', 'sales') }}

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

        ---------- period (inclusive; daily feeds have start = end)
        cast(period_start as date) as period_start,
        cast(period_end as date) as period_end,

        ---------- measures
        cast(units_sold as double) as units_sold,
        cast(units_returned as double) as units_returned,
        cast(net_sales_amount as double) as net_sales_amount,
        upper(trim(currency)) as currency,
        cast(promo_flag as boolean) as promo_flag,
        -- Null when the file does not report them.
        cast(units_received as double) as units_received,
        cast(units_out_of_stock as double) as units_out_of_stock,
        -- The unit the quantities were sent in; cases become units downstream, through the case pack.
        lower(trim(uom)) as uom,

        ---------- lineage
        source_file_id,
        cast(source_line as integer) as source_line,
        cast(merged_lines as integer) as merged_lines

    from source
    {%- if rebuild_from is not none %}
    -- Only the days this night re-builds: a constant bound, applied before each key's rows are ranked.
    where cast(period_end as date) >= {{ rebuild_from }}
    {%- endif %}

),

final as (

    -- One figure per item, location and period: a corrected resend supersedes the earlier one for that period.
    {{ latest_loaded_delivery(
        'renamed', 'feed_files', ['partner_id', 'location_id', 'product_ref', 'period_start', 'period_end']
    ) }}

)

select * from final
