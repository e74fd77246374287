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
    -- A corrected resend supersedes earlier counts of the same day; within one file the last line wins.
    qualify row_number() over (
        partition by partner_id, location_id, product_ref, snapshot_date
        order by received_at desc nulls last, source_file_id desc, source_line desc nulls last
    ) = 1

)

select * from final
