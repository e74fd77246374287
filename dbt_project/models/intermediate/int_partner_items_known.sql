with

partner_items as (

    select * from {{ ref('stg_supplier__partner_items') }}

),

products as (

    select * from {{ ref('stg_supplier__products') }}

),

agreements as (

    select * from {{ ref('stg_supplier__agreements') }}

),

final as (

    -- A cross-reference counts only when it points at a product we actually have.
    select
        partner_items.partner_id,
        partner_items.partner_item_ref,
        partner_items.product_id,
        -- The case the partner receives from us, as the replenishment policy rounds to: what a count in cases means.
        coalesce(product_agreements.case_pack, partner_default_agreements.case_pack, products.case_pack)
            as case_pack

    from partner_items
    inner join products
        on partner_items.product_id = products.product_id
    left join agreements as product_agreements
        on partner_items.partner_id = product_agreements.partner_id
        and partner_items.product_id = product_agreements.product_id
    left join agreements as partner_default_agreements
        on partner_items.partner_id = partner_default_agreements.partner_id
        and partner_default_agreements.is_partner_default

)

select * from final
