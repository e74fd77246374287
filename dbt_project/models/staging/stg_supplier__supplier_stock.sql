with

source as (

    select * from {{ source('raw', 'supplier_stock') }}

),

final as (

    select

        ---------- ids
        trim(product_id) as product_id,

        ---------- dates
        cast(as_of_date as date) as as_of_date,

        ---------- quantities
        cast(available_qty as double) as available_qty

    from source

)

select * from final
