with

promotions as (

    select * from {{ ref('int_promotions_resolved') }}

),

promotion_days as (

    select
        partner_id,
        location_id,
        product_id,
        -- Only the days a forecast can use: its history and the weeks ahead. Whatever dates a file holds, a
        -- promotion expands to at most this window.
        {{ days_between(
            "greatest(promo_start, " ~ as_of_date() ~ " - " ~ var('promotion_history_days') ~ ")",
            "least(promo_end, " ~ as_of_date() ~ " + " ~ var('promotion_future_days') ~ ")"
        ) }} as promo_date,
        promo_type,
        depth,
        promotion_key

    from promotions

),

final as (

    select

        ---------- ids
        partner_id,
        location_id,
        product_id,

        ---------- dates
        promo_date,

        ---------- promotion
        count(distinct promotion_key) as promotion_count,
        max(depth) filter (where promo_type = 'discount') as discount_depth,
        bool_or(promo_type = 'discount') as is_discount,
        bool_or(promo_type = 'display') as is_display,
        bool_or(promo_type = 'feature') as is_feature,
        {{ as_of_date() }} as known_on

    from promotion_days
    group by partner_id, location_id, product_id, promo_date

)

select * from final
