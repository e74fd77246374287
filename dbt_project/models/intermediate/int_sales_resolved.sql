with

sales as (

    select * from {{ ref('stg_partner_feeds__sales') }}

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
        sales.partner_id,
        sales.location_id,
        known_items.product_id,
        sales.product_ref,

        ---------- period (inclusive)
        sales.period_start,
        sales.period_end,
        date_diff('day', sales.period_start, sales.period_end) + 1 as period_days,

        ---------- measures
        sales.units_sold,
        sales.units_returned,
        sales.net_sales_amount,
        sales.currency,
        sales.promo_flag,
        sales.units_received,
        sales.units_out_of_stock,

        ---------- lineage
        sales.source_file_id,
        sales.source_line,
        sales.received_at

    from sales
    inner join known_items
        on sales.partner_id = known_items.partner_id
        and sales.product_ref = known_items.partner_item_ref
    inner join partner_locations
        on sales.partner_id = partner_locations.partner_id
        and sales.location_id = partner_locations.location_id
    -- A period is used once it is over on the business date.
    where sales.period_end <= {{ as_of_date() }}
      and sales.period_start <= sales.period_end

),

final as (

    select *
    from resolved
    -- Two of a partner's references (say its SKU and the UPC) can name one product: the latest delivery wins.
    qualify row_number() over (
        partition by partner_id, location_id, product_id, period_start, period_end
        order by received_at desc nulls last, source_file_id desc, source_line desc nulls last
    ) = 1

)

select * from final
