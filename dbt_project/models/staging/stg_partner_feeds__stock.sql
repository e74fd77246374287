{#- An incremental table, ranking again only the days a night's deliveries report (staged_rebuild_from). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_rebuilt_rows('snapshot_date', staged_rebuild_from('snapshot_date', 'stock_snapshots', 'as_of_date')) }}",
    )
}}

{%- set rebuild_from = staged_rebuild_from('snapshot_date', 'stock_snapshots', 'as_of_date') %}

with

source as (

    select * from {{ source('raw', 'stock_snapshots') }}

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
        cast(as_of_date as date) as snapshot_date,

        ---------- quantities
        cast(on_hand_qty as double) as on_hand_qty,
        cast(on_order_qty as double) as on_order_qty,
        cast(in_transit_qty as double) as in_transit_qty,
        lower(trim(uom)) as uom,

        ---------- lineage
        source_file_id,
        cast(source_line as integer) as source_line,
        cast(merged_lines as integer) as merged_lines

    from source
    {%- if rebuild_from is not none %}
    -- Only the days this night re-builds: a constant bound, applied before each key's rows are ranked.
    where cast(as_of_date as date) >= {{ rebuild_from }}
    {%- endif %}

),

final as (

    -- One count per item, location and day: a corrected resend supersedes the earlier count of that day.
    {{ latest_loaded_delivery('renamed', 'feed_files', ['partner_id', 'location_id', 'product_ref', 'snapshot_date']) }}

)

select * from final
