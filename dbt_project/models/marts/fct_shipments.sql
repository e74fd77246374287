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

reported_receipts as (

    select * from {{ ref('int_partner_receipts_reported') }}

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

first_reported_periods as (

    select
        partner_id,
        location_id,
        product_id,
        min(period_start) as first_period_start

    from reported_receipts
    group by partner_id, location_id, product_id

),

-- Materialized like receipt_candidates, for the recursive step below.
receipt_report_candidates as materialized (

    -- Periods the partner reported receipts for, after the shipment left and starting at most the match days past
    -- its expected date, that received at least half the shipped quantity. A shipment the partner's counts show
    -- arriving before its first reported period is not among them: its receipt predates the reports, and letting
    -- it claim the first period would hand every later shipment the receipt of the one before.
    select
        shipped.shipment_id,
        shipped.product_id,
        reported_receipts.period_start,
        reported_receipts.period_end,
        reported_receipts.units_received

    from shipped
    inner join first_reported_periods
        on shipped.partner_id = first_reported_periods.partner_id
        and shipped.location_id = first_reported_periods.location_id
        and shipped.product_id = first_reported_periods.product_id
    left join counted_receipts
        on shipped.shipment_id = counted_receipts.shipment_id
        and shipped.product_id = counted_receipts.product_id
    inner join reported_receipts
        on shipped.partner_id = reported_receipts.partner_id
        and shipped.location_id = reported_receipts.location_id
        and shipped.product_id = reported_receipts.product_id
        and reported_receipts.period_end > shipped.ship_date
        and reported_receipts.period_start
            <= coalesce(shipped.expected_receipt_date, shipped.ship_date) + {{ match_days }}
        and reported_receipts.units_received >= 0.5 * shipped.qty
    where counted_receipts.counted_receipt_date is null
        or counted_receipts.counted_receipt_date >= first_reported_periods.first_period_start

),

reported_receipt_matches (
    partner_id, location_id, product_id, shipment_rank, shipment_id, reported_period_start,
    last_period_start, last_period_unclaimed_qty
) as (

    -- The partner's reported receipts are matched to our shipments in the order they left: each shipment takes the
    -- first period, not before the one the shipment before it took, whose receipts not yet claimed by earlier
    -- shipments still cover at least half of it. Several shipments can share a period; a period's receipts are
    -- never claimed twice.
    select distinct
        partner_id,
        location_id,
        product_id,
        0 as shipment_rank,
        cast(null as varchar) as shipment_id,
        cast(null as date) as reported_period_start,
        cast(null as date) as last_period_start,
        cast(null as double) as last_period_unclaimed_qty

    from shipped

    union all

    select
        partner_id,
        location_id,
        product_id,
        shipment_rank,
        shipment_id,
        claimed_period_start,
        coalesce(claimed_period_start, last_period_start),
        case
            when claimed_period_start is null then last_period_unclaimed_qty
            when claimed_period_start = last_period_start then last_period_unclaimed_qty - qty
            else (
                select receipt_report_candidates.units_received
                from receipt_report_candidates
                where receipt_report_candidates.shipment_id = next_shipment.shipment_id
                  and receipt_report_candidates.product_id = next_shipment.product_id
                  and receipt_report_candidates.period_start = next_shipment.claimed_period_start
            ) - qty
        end

    from (

        select
            shipped.partner_id,
            shipped.location_id,
            shipped.product_id,
            shipped.shipment_rank,
            shipped.shipment_id,
            shipped.qty,
            reported_receipt_matches.last_period_start,
            reported_receipt_matches.last_period_unclaimed_qty,
            (
                select min(receipt_report_candidates.period_start)
                from receipt_report_candidates
                where receipt_report_candidates.shipment_id = shipped.shipment_id
                  and receipt_report_candidates.product_id = shipped.product_id
                  and (
                      receipt_report_candidates.period_start > reported_receipt_matches.last_period_start
                      or reported_receipt_matches.last_period_start is null
                      or (
                          receipt_report_candidates.period_start = reported_receipt_matches.last_period_start
                          and reported_receipt_matches.last_period_unclaimed_qty >= 0.5 * shipped.qty
                      )
                  )
            ) as claimed_period_start

        from reported_receipt_matches
        inner join shipped
            on reported_receipt_matches.partner_id = shipped.partner_id
            and reported_receipt_matches.location_id = shipped.location_id
            and reported_receipt_matches.product_id = shipped.product_id
            and shipped.shipment_rank = reported_receipt_matches.shipment_rank + 1

    ) as next_shipment

),

reported_arrivals as (

    select
        reported_receipt_matches.shipment_id,
        reported_receipt_matches.product_id,
        receipt_report_candidates.period_start as reported_period_start,
        receipt_report_candidates.period_end as reported_period_end

    from reported_receipt_matches
    inner join receipt_report_candidates
        on reported_receipt_matches.shipment_id = receipt_report_candidates.shipment_id
        and reported_receipt_matches.product_id = receipt_report_candidates.product_id
        and reported_receipt_matches.reported_period_start = receipt_report_candidates.period_start

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
