with

forecasts as (

    select * from {{ ref('stg_partner_feeds__forecasts') }}

),

partner_locations as (

    select * from {{ ref('stg_supplier__partner_locations') }}

),

known_items as (

    select * from {{ ref('int_partner_items_known') }}

),

resolved as (

    select

        ---------- ids
        forecasts.partner_id,
        forecasts.location_id,
        known_items.product_id,
        forecasts.product_ref,

        ---------- dates
        forecasts.forecast_date,
        forecasts.target_period_start,
        forecasts.target_period_end,

        ---------- measures
        forecasts.forecast_qty,

        ---------- lineage
        forecasts.source_file_id,
        forecasts.source_line,
        forecasts.received_at

    from forecasts
    inner join known_items
        on forecasts.partner_id = known_items.partner_id
        and forecasts.product_ref = known_items.partner_item_ref
    inner join partner_locations
        on forecasts.partner_id = partner_locations.partner_id
        and forecasts.location_id = partner_locations.location_id
    -- Forecasts made by the business date; their target periods naturally lie ahead.
    where forecasts.forecast_date <= {{ as_of_date() }}
      and forecasts.target_period_start <= forecasts.target_period_end

),

final as (

    select *
    from resolved
    -- Two of a partner's references (say its SKU and the UPC) can name one product: the latest delivery wins.
    qualify row_number() over (
        partition by partner_id, location_id, product_id, forecast_date, target_period_start, target_period_end
        order by received_at desc nulls last, source_file_id desc, source_line desc nulls last
    ) = 1

)

select * from final
