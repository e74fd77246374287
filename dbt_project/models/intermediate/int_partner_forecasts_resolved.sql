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

forecasts_in_view as (

    -- Forecasts made by the business date; their target periods naturally lie ahead.
    select *
    from forecasts
    where forecast_date <= {{ as_of_date() }}
      and target_period_start <= target_period_end

),

resolved as (

    -- Two of a partner's references (say its SKU and the UPC) can name one product: the latest delivery wins.
    {{ resolve_partner_refs('forecasts_in_view', latest_per=['forecast_date', 'target_period_start', 'target_period_end']) }}

),

final as (

    select

        ---------- ids
        partner_id,
        location_id,
        product_id,
        product_ref,

        ---------- dates
        forecast_date,
        -- The first night that had the forecast: its file had arrived and it had been issued.
        {{ known_on('received_at', 'forecast_date') }} as known_on,
        target_period_start,
        target_period_end,

        ---------- measures
        forecast_qty,

        ---------- lineage
        source_file_id,
        source_line,
        received_at

    from resolved

)

select * from final
