with

source as (

    select * from {{ source('raw', 'partner_promotions') }}

),

feed_files as (

    select * from {{ ref('stg_partner_feeds__feed_files') }}

),

renamed as (

    select

        ---------- ids
        trim(partner_id) as partner_id,
        nullif(trim(location_id), '') as location_id,
        trim(product_ref) as product_ref,
        nullif(trim(promo_id), '') as promo_id,

        ---------- promotion
        cast(promo_start as date) as promo_start,
        cast(promo_end as date) as promo_end,
        lower(trim(promo_type)) as promo_type,
        cast(depth as double) as depth,
        coalesce(cast(cancelled as boolean), false) as is_cancelled,

        ---------- lineage
        source_file_id,
        cast(source_line as integer) as source_line

    from source

),

final as (

    -- Every statement a calendar made that the night can know: files loaded (or superseded) and received before
    -- the run's knowledge cut. Revisions are kept side by side; int_promotions_resolved picks the latest.
    select
        renamed.*,
        -- The promotion a statement speaks of: the partner's number, else the promotion as stated.
        coalesce(
            renamed.promo_id,
            concat_ws(
                '|',
                coalesce(renamed.location_id, '*'),
                renamed.product_ref,
                renamed.promo_start,
                renamed.promo_end,
                renamed.promo_type
            )
        ) as promotion_key,
        feed_files.received_at

    from renamed
    inner join feed_files
        on renamed.source_file_id = feed_files.source_file_id
        and {{ known_delivery('feed_files') }}

)

select * from final
