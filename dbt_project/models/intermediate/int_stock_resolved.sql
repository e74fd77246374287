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

stock_in_view as (

    select *
    from stock
    where snapshot_date <= {{ as_of_date() }}

),

resolved as (

    -- Two of a partner's references (say its SKU and the UPC) can name one product: the latest delivery wins.
    {{ resolve_partner_refs('stock_in_view', latest_per=['snapshot_date']) }}

),

final as (

    select

        ---------- ids
        partner_id,
        location_id,
        product_id,
        product_ref,

        ---------- dates
        snapshot_date,

        ---------- quantities
        on_hand_qty,
        on_order_qty,
        in_transit_qty,
        uom,

        ---------- lineage
        source_file_id,
        source_line,
        received_at

    from resolved

)

select * from final
