{#-
    What the replenishment plan starts from, per partner location and product with an agreed policy and a stock
    figure on the business date: the stock position, our shipments still on their way, and the agreed terms. The
    demand over lead time and review period comes from the night's forecast, which runs after dbt; the plan
    (assets/replenishment.py) joins it to these rows on the series keys.
-#}

with

policies as (

    select * from {{ ref('replenishment_policy') }}

),

inventory as (

    select * from {{ ref('fct_inventory_daily') }}

),

shipments as (

    select * from {{ ref('fct_shipments') }}

),

stock as (

    select
        partner_id,
        location_id,
        product_id,
        on_hand_qty,
        on_order_qty,
        observation_age_days

    from inventory
    where inventory_date = {{ as_of_date() }}

),

in_transit as (

    select
        partner_id,
        location_id,
        product_id,
        sum(qty) as in_transit_qty

    from shipments
    where status = 'in_transit'
    group by all

),

final as (

    select

        ---------- ids
        policies.partner_id,
        policies.location_id,
        policies.product_id,

        ---------- the plan date: the business date whose end-of-day stock this is
        {{ as_of_date() }} as plan_date,

        ---------- inventory position
        stock.on_hand_qty as on_hand,
        coalesce(stock.on_order_qty, 0) as on_order,
        coalesce(in_transit.in_transit_qty, 0) as in_transit,
        -- Nothing is committed to other orders yet; the column keeps the policy's formula whole.
        0.0 as committed,
        stock.observation_age_days,

        ---------- the agreed policy
        policies.lead_time_days,
        policies.lead_time_std_days,
        policies.review_period_days,
        policies.service_level,
        policies.min_cover_days,
        policies.max_cover_days,
        policies.case_pack,
        policies.moq,
        policies.ship_days,

        ---------- the forecast days the plan's demand averages over
        cast(ceil(policies.lead_time_days + policies.review_period_days) as integer) as demand_horizon_days

    from policies
    inner join stock
        on policies.partner_id = stock.partner_id
        and policies.location_id = stock.location_id
        and policies.product_id = stock.product_id
    left join in_transit
        on policies.partner_id = in_transit.partner_id
        and policies.location_id = in_transit.location_id
        and policies.product_id = in_transit.product_id

)

select * from final
