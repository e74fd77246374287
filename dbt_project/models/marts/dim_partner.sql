with

partners as (

    select * from {{ ref('stg_supplier__partners') }}

),

partner_locations as (

    select * from {{ ref('stg_supplier__partner_locations') }}

),

location_counts as (

    select
        partner_id,
        count(*) as location_count

    from partner_locations
    group by partner_id

),

final as (

    select

        ---------- ids
        partners.partner_id,

        ---------- text
        partners.partner_name,
        partners.country,
        partners.timezone,
        partners.currency,

        ---------- feed terms
        partners.feed_cutoff_local,

        ---------- size
        coalesce(location_counts.location_count, 0) as location_count

    from partners
    left join location_counts
        on partners.partner_id = location_counts.partner_id

)

select * from final
