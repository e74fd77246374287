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

restatements as (

    -- A calendar without promotion numbers (no line has a promo_id) restates the partner's plan for the days it
    -- spans: from its first start to its last end.
    select
        partner_id,
        source_file_id,
        coalesce(received_at, timestamp '-infinity') as received_at,
        min(promo_start) as span_start,
        max(promo_end) as span_end

    from statements
    group by partner_id, source_file_id, coalesce(received_at, timestamp '-infinity')
    having bool_and(promo_id is null)

),

current_statements as (

    -- A promotion without a number has no key a later file can revise it by (a moved one would count twice):
    -- a later calendar without numbers that spans any of its days replaces it, listed or not.
    select statements.*
    from statements
    where statements.promo_id is not null
        or not exists (
            select 1
            from restatements as later
            where later.partner_id = statements.partner_id
                and later.span_start <= statements.promo_end
                and statements.promo_start <= later.span_end
                and (
                    later.received_at > coalesce(statements.received_at, timestamp '-infinity')
                    or (
                        later.received_at = coalesce(statements.received_at, timestamp '-infinity')
                        and later.source_file_id > statements.source_file_id
                    )
                )
        )

),

latest_statements as (

    -- A later calendar revises an earlier one: what the night knows of a promotion is what the latest file it
    -- received about it says (every line of that file, a promotion may cover several items).
    select *
    from current_statements
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

resolved as (

    {{ resolve_partner_refs('located') }}

),

final as (

    select

        ---------- ids
        partner_id,
        promotion_key,
        promo_id,
        location_id,
        product_id,
        product_ref,

        ---------- promotion
        promo_start,
        promo_end,
        promo_type,
        depth,
        is_all_locations,

        ---------- lineage
        source_file_id,
        source_line,
        received_at

    from resolved
    -- A store's own line wins over the chain-wide one of the same promotion; then the file's last line.
    qualify row_number() over (
        partition by partner_id, promotion_key, location_id, product_id
        order by is_all_locations asc, source_line desc
    ) = 1

)

select * from final
