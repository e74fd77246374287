{%- set grace_days = var('receipt_grace_days') | int %}
{%- set match_days = var('receipt_match_days') | int %}

with recursive

shipments as (

    select * from {{ ref('stg_supplier__shipments') }}

),

stock_changes as (

    select * from {{ ref('int_stock_changes_explained') }}

),

stock_counts as (

    select * from {{ ref('int_stock_resolved') }}

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

shipped as (

    -- Shipments already on their way, in the order they left, per partner location and product.
    select
        *,
        row_number() over (
            partition by partner_id, location_id, product_id order by ship_date, shipment_id
        ) as shipment_rank

    from shipments
    where ship_date <= {{ as_of_date() }}

),

-- Materialized: DuckDB's recursive step below cannot read through the ASOF join in int_stock_changes_explained.
receipt_candidates as materialized (

    -- Counts after shipping, up to the match days past the expected date, where on-hand rose by at least half
    -- the shipped quantity more than the partner's sales and returns explain.
    select
        shipped.shipment_id,
        shipped.product_id,
        stock_changes.count_date

    from shipped
    inner join stock_changes
        on shipped.partner_id = stock_changes.partner_id
        and shipped.location_id = stock_changes.location_id
        and shipped.product_id = stock_changes.product_id
        and stock_changes.count_date > shipped.ship_date
        and stock_changes.count_date <= coalesce(shipped.expected_receipt_date, shipped.ship_date) + {{ match_days }}
        and stock_changes.unexplained_change_qty > 0
        and stock_changes.unexplained_change_qty >= 0.5 * shipped.qty

),

counted_receipts (
    partner_id, location_id, product_id, shipment_rank, shipment_id, counted_receipt_date, last_claimed_date
) as (

    -- Goods arrive in the order they left: each shipment takes the first rise after the one the shipments
    -- before it took, so a late shipment's arrival is never also taken as the next one's.
    select distinct
        partner_id,
        location_id,
        product_id,
        0 as shipment_rank,
        cast(null as varchar) as shipment_id,
        cast(null as date) as counted_receipt_date,
        cast(null as date) as last_claimed_date

    from shipped

    union all

    select
        partner_id,
        location_id,
        product_id,
        shipment_rank,
        shipment_id,
        next_rise_date,
        coalesce(next_rise_date, last_claimed_date)

    from (

        select
            shipped.partner_id,
            shipped.location_id,
            shipped.product_id,
            shipped.shipment_rank,
            shipped.shipment_id,
            counted_receipts.last_claimed_date,
            (
                select min(receipt_candidates.count_date)
                from receipt_candidates
                where receipt_candidates.shipment_id = shipped.shipment_id
                  and receipt_candidates.product_id = shipped.product_id
                  and receipt_candidates.count_date
                      > coalesce(counted_receipts.last_claimed_date, shipped.ship_date)
            ) as next_rise_date

        from counted_receipts
        inner join shipped
            on counted_receipts.partner_id = shipped.partner_id
            and counted_receipts.location_id = shipped.location_id
            and counted_receipts.product_id = shipped.product_id
            and shipped.shipment_rank = counted_receipts.shipment_rank + 1

    ) as next_shipment

),

located as (

    select
        shipments.*,
        counted_receipts.counted_receipt_date,
        last_counts.last_count_date,
        case
            when shipments.ship_date > {{ as_of_date() }} then 'planned'
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
    left join last_counts
        on shipments.partner_id = last_counts.partner_id
        and shipments.location_id = last_counts.location_id
        and shipments.product_id = last_counts.product_id

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
        case
            when status <> 'delivered' then null
            when counted_receipt_date is not null then counted_receipt_date
            else expected_receipt_date
        end as receipt_date,
        case
            when status <> 'delivered' then null
            when counted_receipt_date is not null then 'stock_count'
            else 'expected_date'
        end as receipt_source,
        date_diff('day', expected_receipt_date, counted_receipt_date) as receipt_delay_days

    from located

)

select * from final
