with

source as (

    select * from {{ source('raw', 'products') }}

),

final as (

    select

        ---------- ids
        trim(product_id) as product_id,
        -- GTIN-14: numbers shorter than 14 digits are left-padded, which is how GTIN-8/12/13 map to GTIN-14.
        case
            when regexp_full_match(trim(gtin), '[0-9]{8,14}') then lpad(trim(gtin), 14, '0')
            else nullif(trim(gtin), '')
        end as gtin,

        ---------- text
        description as product_description,
        category,
        lower(trim(lifecycle)) as lifecycle,

        ---------- packing
        cast(case_pack as integer) as case_pack,
        cast(moq as integer) as moq,
        cast(pallet_qty as integer) as pallet_qty,

        ---------- money
        cast(unit_cost as double) as unit_cost

    from source

)

select * from final
