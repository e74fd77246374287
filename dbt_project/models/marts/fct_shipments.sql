{%- set grace_days = var('receipt_grace_days') | int %}

with

shipments as (

    select * from {{ ref('stg_supplier__shipments') }}

),

stock_counts as (

    select * from {{ ref('int_stock_resolved') }}

),

counted_receipts as (

    select * from {{ ref('int_shipment_arrivals_counted') }}

),

reported_arrivals as (

    select * from {{ ref('int_shipment_arrivals_reported') }}

),

last_counts as (

    select
        partner_id,
        location_id,
        product_id,
        max(snapshot_date) as last_count_date

    from stock_counts
    group by partner_id, location_id, product_id

),

located as (

    select
        shipments.*,
        counted_receipts.counted_receipt_date,
        reported_arrivals.reported_period_start,
        reported_arrivals.reported_period_end,
        last_counts.last_count_date,
        case
            when shipments.ship_date > {{ as_of_date() }} then 'planned'
            -- The partner reported the goods received, or its counts show them.
            when reported_arrivals.reported_period_start is not null then 'delivered'
            when counted_receipts.counted_receipt_date is not null then 'delivered'
            -- Shipped with no receipt date and not counted yet: still on the road.
            when shipments.expected_receipt_date is null then 'in_transit'
            when shipments.expected_receipt_date > {{ as_of_date() }} then 'in_transit'
            -- Due, and no count since the due date says otherwise: trust the schedule.
            when last_counts.last_count_date is null
                or last_counts.last_count_date < shipments.expected_receipt_date then 'delivered'
            -- Due, but the counts since do not show it: late. After the grace days assume it arrived uncounted.
            when shipments.expected_receipt_date + {{ grace_days }} <= {{ as_of_date() }} then 'delivered'
            else 'in_transit'
        end as status

    from shipments
    left join counted_receipts
        on shipments.shipment_id = counted_receipts.shipment_id
        and shipments.product_id = counted_receipts.product_id
    left join reported_arrivals
        on shipments.shipment_id = reported_arrivals.shipment_id
        and shipments.product_id = reported_arrivals.product_id
    left join last_counts
        on shipments.partner_id = last_counts.partner_id
        and shipments.location_id = last_counts.location_id
        and shipments.product_id = last_counts.product_id

),

dated as (

    select
        located.*,
        case
            when status <> 'delivered' then null
            when reported_period_start is not null then 'reported_receipt'
            when counted_receipt_date is not null then 'stock_count'
            else 'expected_date'
        end as receipt_source,
        case
            when status <> 'delivered' then null
            -- A reported period longer than a day is dated by the count that showed the goods within it, else
            -- by the expected date moved into the period (and after the ship date).
            when reported_period_start is not null then
                case
                    when counted_receipt_date between reported_period_start and reported_period_end
                        then counted_receipt_date
                    else least(
                        reported_period_end,
                        greatest(
                            reported_period_start,
                            ship_date + 1,
                            coalesce(expected_receipt_date, ship_date + 1)
                        )
                    )
                end
            when counted_receipt_date is not null then counted_receipt_date
            else expected_receipt_date
        end as receipt_date

    from located

),

final as (

    select

        ---------- ids
        shipment_id,
        partner_id,
        location_id,
        product_id,

        ---------- dates
        ship_date,
        expected_receipt_date,

        ---------- quantities
        qty,

        ---------- where the goods are on the business date
        status,

        ---------- when and how we know they arrived
        receipt_date,
        receipt_source,
        case
            when receipt_source in ('reported_receipt', 'stock_count')
                then date_diff('day', expected_receipt_date, receipt_date)
        end as receipt_delay_days,
        reported_period_start as receipt_reported_period_start,
        reported_period_end as receipt_reported_period_end

    from dated

)

select * from final
