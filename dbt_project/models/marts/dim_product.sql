with

products as (

    select * from {{ ref('stg_supplier__products') }}

),

final as (

    select

        ---------- ids
        product_id,
        gtin,

        ---------- text
        product_description,
        category,
        lifecycle,

        ---------- packing
        case_pack,
        moq,
        pallet_qty,

        ---------- money
        unit_cost

    from products

)

select * from final
