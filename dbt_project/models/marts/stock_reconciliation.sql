{#-
    Incremental with one first day for all series (macros/incremental_window.sql, reconciliation_rebuild_from): a
    night re-builds the rows dated from the first day of any stock change or reported receipt delivered since the
    last build (or the lookback window's, or a replayed night's first row holding a delivery after its cut), and
    from the first day of any receipt that differs from what the last build read: one of our shipments received
    differently (a receipt dated, moved, undone or its quantity changed) or a receipt a partner reported that came,
    went or changed. Those show no delivery in the rows, so the build keeps the receipts it read in a table of their
    own (post-hook remember_reconciled_receipts) and the next night compares. A changed tolerance re-builds it whole.
-#}
{%- set tolerance_units = var('reconciliation_tolerance_units') | float %}
{%- set tolerance_share = var('reconciliation_tolerance_share') | float %}
{%- set current_columns = ['received_at', 'loaded_at'] -%}
-- The master data the post-hook's hash reads (resolve_partner_refs.sql, partner_refs_fingerprint):
-- depends_on: {{ ref('int_partner_items_known') }}, {{ ref('stg_supplier__partner_locations') }}

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_rebuilt_rows('reconciliation_date', reconciliation_rebuild_from(" ~ current_columns ~ ")) }}",
        post_hook=["{{ remember_partner_refs(reconciliation_settings()) }}", "{{ remember_reconciled_receipts() }}"],
    )
}}

{%- set rebuild_from = reconciliation_rebuild_from(current_columns) %}

with

stock_changes as (

    select * from {{ ref('int_stock_changes_explained') }}
    {%- if rebuild_from is not none %}
    where count_date >= {{ rebuild_from }}
    {%- endif %}

),

shipments as (

    select * from {{ ref('fct_shipments') }}

),

reported_receipts as (

    select * from {{ ref('int_partner_receipts_reported') }}

),

reported_per_interval as (

    -- Receipts the partner reported for periods within the interval (after the previous count, up to this one):
    -- its own figure is used for those days. A period that straddles a count cannot be split between intervals.
    select
        stock_changes.partner_id,
        stock_changes.location_id,
        stock_changes.product_id,
        stock_changes.count_date,
        sum(reported_receipts.units_received) as reported_received_qty,
        max(reported_receipts.received_at) as reported_received_at,
        max(reported_receipts.loaded_at) as reported_loaded_at

    from stock_changes
    inner join reported_receipts
        on stock_changes.partner_id = reported_receipts.partner_id
        and stock_changes.location_id = reported_receipts.location_id
        and stock_changes.product_id = reported_receipts.product_id
        and reported_receipts.period_start > stock_changes.previous_count_date
        and reported_receipts.period_end <= stock_changes.count_date
    group by stock_changes.partner_id, stock_changes.location_id, stock_changes.product_id, stock_changes.count_date

),

received as (

    select
        partner_id,
        location_id,
        product_id,
        receipt_date,
        qty

    from shipments
    where receipt_date is not null

),

received_in_interval as (

    -- A receipt belongs to the first count on or after the day it arrived, if it arrived after the count before.
    select
        stock_changes.partner_id,
        stock_changes.location_id,
        stock_changes.product_id,
        stock_changes.count_date,
        received.qty,
        -- Already in the partner's own figure when a period it reported receipts for, within the interval, holds it.
        exists (
            select 1
            from reported_receipts
            where reported_receipts.partner_id = received.partner_id
              and reported_receipts.location_id = received.location_id
              and reported_receipts.product_id = received.product_id
              and received.receipt_date between reported_receipts.period_start and reported_receipts.period_end
              and reported_receipts.period_start > stock_changes.previous_count_date
              and reported_receipts.period_end <= stock_changes.count_date
        ) as is_in_reported_period

    from received
    asof inner join stock_changes
        on received.partner_id = stock_changes.partner_id
        and received.location_id = stock_changes.location_id
        and received.product_id = stock_changes.product_id
        and received.receipt_date <= stock_changes.count_date
    where received.receipt_date > stock_changes.previous_count_date

),

received_per_interval as (

    select
        partner_id,
        location_id,
        product_id,
        count_date,
        coalesce(sum(qty) filter (where not is_in_reported_period), 0) as shipped_received_qty,
        count(*) as shipments_received

    from received_in_interval
    group by partner_id, location_id, product_id, count_date

),

expected as (

    select
        stock_changes.*,
        reported_per_interval.reported_received_qty,
        reported_per_interval.reported_received_at,
        reported_per_interval.reported_loaded_at,
        coalesce(reported_per_interval.reported_received_qty, 0)
            + coalesce(received_per_interval.shipped_received_qty, 0) as received_qty,
        coalesce(received_per_interval.shipments_received, 0) as shipments_received

    from stock_changes
    left join received_per_interval
        on stock_changes.partner_id = received_per_interval.partner_id
        and stock_changes.location_id = received_per_interval.location_id
        and stock_changes.product_id = received_per_interval.product_id
        and stock_changes.count_date = received_per_interval.count_date
    left join reported_per_interval
        on stock_changes.partner_id = reported_per_interval.partner_id
        and stock_changes.location_id = reported_per_interval.location_id
        and stock_changes.product_id = reported_per_interval.product_id
        and stock_changes.count_date = reported_per_interval.count_date

),

with_expected_on_hand as (

    select
        *,
        previous_on_hand_qty + received_qty - units_sold + units_returned as expected_on_hand_qty

    from expected

),

final as (

    select

        ---------- ids
        partner_id,
        location_id,
        product_id,

        ---------- day
        count_date as reconciliation_date,
        previous_count_date,
        days_since_previous_count,

        ---------- the movement: previous count + received - sold + returned
        previous_on_hand_qty,
        received_qty,
        reported_received_qty,
        shipments_received,
        units_sold,
        units_returned,
        unreported_sales_days,

        ---------- expected against reported
        expected_on_hand_qty,
        on_hand_qty as reported_on_hand_qty,
        on_hand_qty - expected_on_hand_qty as gap_qty,
        100.0 * (on_hand_qty - expected_on_hand_qty) / greatest(abs(expected_on_hand_qty), 1) as gap_pct,

        ---------- tolerance: the larger of a few units and a share of the expected stock
        greatest({{ tolerance_units }}, {{ tolerance_share }} * abs(expected_on_hand_qty)) as tolerance_qty,
        abs(on_hand_qty - expected_on_hand_qty)
            > greatest({{ tolerance_units }}, {{ tolerance_share }} * abs(expected_on_hand_qty)) as is_above_tolerance,

        ---------- lineage: the newest partner delivery the row was worked out from (counts, sales, receipts)
        greatest(received_at, reported_received_at) as received_at,
        greatest(loaded_at, reported_loaded_at) as loaded_at

    from with_expected_on_hand

)

select * from final
