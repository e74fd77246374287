with

source as (

    select * from {{ source('raw', 'partner_locations') }}

),

final as (

    select

        ---------- ids
        trim(partner_id) as partner_id,
        trim(location_id) as location_id,
        nullif(trim(gln), '') as gln,

        ---------- text
        location_name,
        city,
        upper(trim(country)) as country

    from source

)

select * from final
