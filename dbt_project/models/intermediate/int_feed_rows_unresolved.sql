with

stock as (

    select * from {{ ref('stg_partner_feeds__stock') }}

),

sales as (

    select * from {{ ref('stg_partner_feeds__sales') }}

),

forecasts as (

    select * from {{ ref('stg_partner_feeds__forecasts') }}

),

promotions as (

    select * from {{ ref('stg_partner_feeds__promotions') }}

),

partner_locations as (

    select * from {{ ref('stg_supplier__partner_locations') }}

),

known_items as (

    select * from {{ ref('int_partner_items_known') }}

),

feed_rows as (

    -- activity_date is the date each resolved model filters on, so both sides of the split see the same rows.
    select
        'stock' as record_type,
        partner_id,
        location_id,
        product_ref,
        snapshot_date as activity_date,
        snapshot_date as period_start,
        snapshot_date as period_end,
        false as is_invalid_period,
        uom,
        file_format,
        source_file_id,
        source_line,
        received_at
    from stock

    union all

    select
        'sales' as record_type,
        partner_id,
        location_id,
        product_ref,
        period_end as activity_date,
        period_start,
        period_end,
        period_start > period_end as is_invalid_period,
        uom,
        file_format,
        source_file_id,
        source_line,
        received_at
    from sales

    union all

    select
        'forecast' as record_type,
        partner_id,
        location_id,
        product_ref,
        forecast_date as activity_date,
        target_period_start as period_start,
        target_period_end as period_end,
        target_period_start > target_period_end as is_invalid_period,
        cast(null as varchar) as uom,
        file_format,
        source_file_id,
        source_line,
        received_at
    from forecasts

    union all

    -- A calendar line counts on the day it arrived (its promotion usually lies ahead); every statement is listed.
    select
        'promotion' as record_type,
        partner_id,
        location_id,
        product_ref,
        cast(received_at as date) as activity_date,
        promo_start as period_start,
        promo_end as period_end,
        promo_start > promo_end as is_invalid_period,
        cast(null as varchar) as uom,
        cast(null as varchar) as file_format,
        source_file_id,
        source_line,
        received_at
    from promotions
    -- One line per item, store, period and day of arrival, as the listing is keyed.
    qualify row_number() over (
        partition by partner_id, location_id, product_ref, cast(received_at as date), promo_start, promo_end
        order by source_file_id desc, source_line desc
    ) = 1

),

rows_in_view as (

    select *
    from feed_rows
    where activity_date <= {{ as_of_date() }}

),

resolved as (

    {{ resolve_partner_refs('rows_in_view', keep_unresolved=true) }}

),

checked as (

    select
        *,
        product_id is null as is_unknown_item,
        -- A promotion without a store is for every store, not for an unknown one.
        not is_known_location and not (record_type = 'promotion' and location_id is null) as is_unknown_location,
        -- A known item reported in cases whose product has no case pack: its units are unknown.
        product_id is not null and {{ units_per_uom('uom', 'file_format', 'case_pack') }} is null
            as is_unknown_case_pack

    from resolved

),

reasons as (

    select *, 'unknown item' as reason from checked where is_unknown_item

    union all

    select *, 'unknown location' as reason from checked where is_unknown_location

    union all

    -- A period that ends before it starts cannot be spread over days.
    select *, 'invalid period' as reason from checked where is_invalid_period

    union all

    select *, 'unknown case pack' as reason from checked where is_unknown_case_pack

),

final as (

    select

        ---------- ids
        record_type,
        partner_id,
        location_id,
        product_ref,

        ---------- what is wrong
        reason,
        uom,

        ---------- dates (stock: the count day; sales: the period; forecast: made on, and the target period)
        activity_date,
        period_start,
        period_end,

        ---------- lineage
        source_file_id,
        source_line,
        received_at

    from reasons

)

select * from final
