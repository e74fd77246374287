with

partner_items as (

    select * from {{ ref('stg_supplier__partner_items') }}

),

products as (

    select * from {{ ref('stg_supplier__products') }}

),

final as (

    -- A cross-reference counts only when it points at a product we actually have.
    select
        partner_items.partner_id,
        partner_items.partner_item_ref,
        partner_items.product_id

    from partner_items
    inner join products
        on partner_items.product_id = products.product_id

)

select * from final
