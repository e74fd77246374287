with

source as (

    select * from {{ source('raw', 'partner_items') }}

),

final as (

    select

        ---------- ids
        trim(partner_id) as partner_id,
        -- Matched exactly (after trimming blanks) against product_ref in the partner's files.
        trim(partner_item_ref) as partner_item_ref,
        trim(product_id) as product_id,

        ---------- text
        lower(trim(ref_type)) as ref_type

    from source

)

select * from final
