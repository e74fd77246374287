with

shipments as (

    select * from {{ ref('stg_supplier__shipments') }}

),

final as (

    select

        ---------- ids
        shipment_id,
        partner_id,
        location_id,
        product_id,

        ---------- dates
        ship_date,
        expected_receipt_date,

        ---------- quantities
        qty,

        ---------- where the goods are on the business date
        case
            when ship_date > {{ as_of_date() }} then 'planned'
            when expected_receipt_date <= {{ as_of_date() }} then 'delivered'
            -- Shipped with no receipt date yet: still on the road.
            else 'in_transit'
        end as status

    from shipments

)

select * from final
