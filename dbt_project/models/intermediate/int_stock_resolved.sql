with

stock as (

    select * from {{ ref('stg_partner_feeds__stock') }}

),

partner_locations as (

    select * from {{ ref('stg_supplier__partner_locations') }}

),

known_items as (

    select * from {{ ref('int_partner_items_known') }}

),

resolved as (

    select

        ---------- ids
        stock.partner_id,
        stock.location_id,
        known_items.product_id,
        stock.product_ref,

        ---------- dates
        stock.snapshot_date,

        ---------- quantities
        stock.on_hand_qty,
        stock.on_order_qty,
        stock.in_transit_qty,
        stock.uom,

        ---------- lineage
        stock.source_file_id,
        stock.source_line,
        stock.received_at

    from stock
    inner join known_items
        on stock.partner_id = known_items.partner_id
        and stock.product_ref = known_items.partner_item_ref
    inner join partner_locations
        on stock.partner_id = partner_locations.partner_id
        and stock.location_id = partner_locations.location_id
    where stock.snapshot_date <= {{ as_of_date() }}

),

final as (

    select *
    from resolved
    -- Two of a partner's references (say its SKU and the UPC) can name one product: the latest delivery wins.
    qualify row_number() over (
        partition by partner_id, location_id, product_id, snapshot_date
        order by received_at desc nulls last, source_file_id desc, source_line desc nulls last
    ) = 1

)

select * from final
