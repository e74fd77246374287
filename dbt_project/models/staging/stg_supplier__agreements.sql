with

source as (

    select * from {{ source('raw', 'replenishment_agreements') }}

),

final as (

    select

        ---------- ids
        trim(partner_id) as partner_id,
        nullif(trim(product_id), '') as product_id,

        ---------- scope
        nullif(trim(product_id), '') is null as is_partner_default,

        ---------- lead time
        cast(lead_time_days as double) as lead_time_days,
        cast(lead_time_std_days as double) as lead_time_std_days,
        cast(review_period_days as integer) as review_period_days,

        ---------- service and cover
        cast(service_level as double) as service_level,
        cast(min_cover_days as double) as min_cover_days,
        cast(max_cover_days as double) as max_cover_days,

        ---------- order sizes (null: take the product's)
        cast(moq as integer) as moq,
        cast(case_pack as integer) as case_pack,

        ---------- shipping
        nullif(replace(trim(ship_days), ' ', ''), '') as ship_days,

        ---------- costs (the supplier's currency)
        cast(holding_cost_rate as double) as holding_cost_rate,
        cast(shipment_cost as double) as shipment_cost,
        cast(stockout_penalty_rate as double) as stockout_penalty_rate,

        ---------- forecasting (null: not set)
        nullif(lower(trim(forecast_bucket)), '') as forecast_bucket

    from source

)

select * from final
