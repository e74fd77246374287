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
