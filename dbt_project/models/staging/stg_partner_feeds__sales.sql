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

        ---------- lineage
        source_file_id,
        cast(source_line as integer) as source_line

    from source

),

loaded_rows as (

    select
        renamed.*,
        feed_files.received_at

    from renamed
    inner join feed_files
        on renamed.source_file_id = feed_files.source_file_id
        and feed_files.status = 'loaded'

),

final as (

    select *
    from loaded_rows
    -- A corrected resend supersedes earlier figures for the same period; within one file the last line wins.
    qualify row_number() over (
        partition by partner_id, location_id, product_ref, period_start, period_end
        order by received_at desc nulls last, source_file_id desc, source_line desc nulls last
    ) = 1

)

select * from final
