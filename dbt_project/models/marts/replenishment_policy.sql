with

policies as (

    select * from {{ ref('int_replenishment_policy_resolved') }}

),

final as (

    select

        ---------- ids
        partner_id,
        location_id,
        product_id,

        ---------- lead time and review
        lead_time_days,
        lead_time_std_days,
        review_period_days,

        ---------- service and cover
        service_level,
        min_cover_days,
        max_cover_days,

        ---------- order sizes
        moq,
        case_pack,
        pallet_qty,

        ---------- shipping
        ship_days,

        ---------- costs
        holding_cost_rate,
        shipment_cost,
        stockout_penalty_rate,

        ---------- forecasting
        forecast_bucket,

        ---------- product
        lifecycle,
        unit_cost,

        ---------- where the terms come from
        agreement_source

    from policies
    -- Without an agreement there is nothing to plan on; int_replenishment_policy_resolved still lists the series.
    where agreement_source <> 'none'

)

select * from final
