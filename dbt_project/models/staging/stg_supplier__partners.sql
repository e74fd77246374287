with

source as (

    select * from {{ source('raw', 'partners') }}

),

final as (

    select

        ---------- ids
        trim(partner_id) as partner_id,

        ---------- text
        partner_name,
        upper(trim(country)) as country,
        trim(timezone) as timezone,
        upper(trim(currency)) as currency,

        ---------- feed terms
        trim(feed_cutoff_local) as feed_cutoff_local

    from source

)

select * from final
