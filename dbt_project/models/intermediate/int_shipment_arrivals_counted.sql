{#-
    The first matcher of fct_shipments: our shipments matched, in the order they left, to the rises in the
    partner's stock counts that int_stock_changes_explained leaves unexplained. A table, because the second
    matcher (int_shipment_arrivals_reported) and the mart both read it and the recursion should run once.
-#}
{{ config(materialized='table') }}

{%- set match_days = var('receipt_match_days') | int %}

with recursive

shipments as (

    select * from {{ ref('stg_supplier__shipments') }}

),

stock_changes as (

    select * from {{ ref('int_stock_changes_explained') }}

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

final as (

    select

        ---------- ids
        shipped.shipment_id,
        shipped.partner_id,
        shipped.location_id,
        shipped.product_id,

        ---------- the shipment, and its place in the order the series' shipments left
        shipped.ship_date,
        shipped.expected_receipt_date,
        shipped.qty,
        shipped.shipment_rank,

        ---------- the count that showed it arrive (null: none did)
        counted_receipts.counted_receipt_date

    from shipped
    inner join counted_receipts
        on shipped.shipment_id = counted_receipts.shipment_id
        and shipped.product_id = counted_receipts.product_id

)

select * from final
