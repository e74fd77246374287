with

statements as (

    select * from {{ ref('stg_partner_feeds__promotions') }}

),

partner_locations as (

    select * from {{ ref('stg_supplier__partner_locations') }}

),

known_items as (

    select * from {{ ref('int_partner_items_known') }}

),

latest_statements as (

    -- A later calendar revises an earlier one: what the night knows of a promotion is what the latest file it
    -- received about it says (every line of that file, a promotion may cover several items).
    select *
    from statements
    qualify rank() over (
        partition by partner_id, promotion_key
        order by received_at desc nulls last, source_file_id desc
    ) = 1

),

planned as (

    select * from latest_statements where not is_cancelled

),

located as (

    -- A promotion without a store runs at every location of the partner; one naming a store we do not know is
    -- left out, as feed rows at unknown locations are.
    select
        planned.* exclude (location_id),
        partner_locations.location_id,
        planned.location_id is null as is_all_locations

    from planned
    inner join partner_locations
        on planned.partner_id = partner_locations.partner_id
        and (planned.location_id is null or planned.location_id = partner_locations.location_id)

),

final as (

    select

        ---------- ids
        located.partner_id,
        located.promotion_key,
        located.promo_id,
        located.location_id,
        known_items.product_id,
        located.product_ref,

        ---------- promotion
        located.promo_start,
        located.promo_end,
        located.promo_type,
        located.depth,
        located.is_all_locations,

        ---------- lineage
        located.source_file_id,
        located.source_line,
        located.received_at

    from located
    inner join known_items
        on located.partner_id = known_items.partner_id
        and located.product_ref = known_items.partner_item_ref
    -- A store's own line wins over the chain-wide one of the same promotion; then the file's last line.
    qualify row_number() over (
        partition by located.partner_id, located.promotion_key, located.location_id, known_items.product_id
        order by located.is_all_locations asc, located.source_line desc
    ) = 1

)

select * from final
