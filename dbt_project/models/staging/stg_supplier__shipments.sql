with

source as (

    select * from {{ source('raw', 'shipments') }}

),

final as (

    select

        ---------- ids
        trim(shipment_id) as shipment_id,
        trim(partner_id) as partner_id,
        trim(location_id) as location_id,
        trim(product_id) as product_id,

        ---------- dates
        cast(ship_date as date) as ship_date,
        cast(expected_receipt_date as date) as expected_receipt_date,

        ---------- quantities
        cast(qty as double) as qty

    from source

)

select * from final
