with

partner_locations as (

    select * from {{ ref('stg_supplier__partner_locations') }}

),

partners as (

    select * from {{ ref('stg_supplier__partners') }}

),

final as (

    select

        ---------- ids
        partner_locations.partner_id,
        partner_locations.location_id,
        partner_locations.gln,

        ---------- text
        partner_locations.location_name,
        partner_locations.city,
        partner_locations.country,
        partners.partner_name

    from partner_locations
    left join partners
        on partner_locations.partner_id = partners.partner_id

)

select * from final
