{#-
    The second matcher of fct_shipments: our shipments matched, in the order they left, to the receipts the
    partner reports per period (int_partner_receipts_reported), leaving to the counts a shipment they show
    arriving before the first reported period (int_shipment_arrivals_counted). A table like the first matcher,
    so the mart reads the recursion's result instead of running it again.
-#}
{{ config(materialized='table') }}

{%- set match_days = var('receipt_match_days') | int %}

with recursive

shipments_counted as (

    select * from {{ ref('int_shipment_arrivals_counted') }}

),

reported_receipts as (

    select * from {{ ref('int_partner_receipts_reported') }}

),

shipped as (

    -- Shipments already on their way, in the order they left, per partner location and product.
    select
        shipment_id,
        partner_id,
        location_id,
        product_id,
        ship_date,
        expected_receipt_date,
        qty,
        shipment_rank

    from shipments_counted

),

counted_receipts as (

    select
        shipment_id,
        product_id,
        counted_receipt_date

    from shipments_counted

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

-- Materialized like receipt_candidates in int_shipment_arrivals_counted, for the recursive step below.
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

final as (

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

)

select * from final
