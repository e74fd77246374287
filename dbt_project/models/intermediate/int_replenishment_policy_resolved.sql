with

stock as (

    select * from {{ ref('int_stock_resolved') }}

),

sales as (

    select * from {{ ref('int_sales_resolved') }}

),

products as (

    select * from {{ ref('stg_supplier__products') }}

),

agreements as (

    select * from {{ ref('stg_supplier__agreements') }}

),

carried_series as (

    -- A location carries a product once the partner has reported stock or sales of it there.
    select partner_id, location_id, product_id from stock
    union
    select partner_id, location_id, product_id from sales

),

product_agreements as (

    select * from agreements where not is_partner_default

),

partner_default_agreements as (

    select * from agreements where is_partner_default

),

resolved as (

    select

        ---------- ids
        carried_series.partner_id,
        carried_series.location_id,
        carried_series.product_id,

        ---------- where the terms come from
        case
            when product_agreements.partner_id is not null then 'product'
            when partner_default_agreements.partner_id is not null then 'partner_default'
            else 'none'
        end as agreement_source,

        ---------- lead time and review: the product's override, field by field, else the partner's default
        coalesce(product_agreements.lead_time_days, partner_default_agreements.lead_time_days)
            as lead_time_days,
        coalesce(product_agreements.lead_time_std_days, partner_default_agreements.lead_time_std_days)
            as lead_time_std_days,
        coalesce(product_agreements.review_period_days, partner_default_agreements.review_period_days)
            as review_period_days,

        ---------- service and cover
        coalesce(product_agreements.service_level, partner_default_agreements.service_level)
            as service_level,
        coalesce(product_agreements.min_cover_days, partner_default_agreements.min_cover_days)
            as min_cover_days,
        coalesce(product_agreements.max_cover_days, partner_default_agreements.max_cover_days)
            as max_cover_days,

        ---------- order sizes: agreement first, then the product master
        coalesce(product_agreements.moq, partner_default_agreements.moq, products.moq) as moq,
        coalesce(product_agreements.case_pack, partner_default_agreements.case_pack, products.case_pack)
            as case_pack,

        ---------- shipping
        coalesce(product_agreements.ship_days, partner_default_agreements.ship_days) as ship_days,

        ---------- costs: a delivery serves the whole location, so its cost is the partner's default
        coalesce(product_agreements.holding_cost_rate, partner_default_agreements.holding_cost_rate)
            as holding_cost_rate,
        partner_default_agreements.shipment_cost,
        coalesce(product_agreements.stockout_penalty_rate, partner_default_agreements.stockout_penalty_rate)
            as stockout_penalty_rate,

        ---------- forecasting: the period the nightly forecast buckets demand in
        coalesce(product_agreements.forecast_bucket, partner_default_agreements.forecast_bucket, 'day')
            as forecast_bucket,

        ---------- product
        products.lifecycle,
        products.pallet_qty,
        products.unit_cost

    from carried_series
    inner join products
        on carried_series.product_id = products.product_id
    left join product_agreements
        on carried_series.partner_id = product_agreements.partner_id
        and carried_series.product_id = product_agreements.product_id
    left join partner_default_agreements
        on carried_series.partner_id = partner_default_agreements.partner_id

),

final as (

    select * from resolved

)

select * from final
