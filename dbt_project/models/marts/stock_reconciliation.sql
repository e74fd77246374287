{%- set tolerance_units = var('reconciliation_tolerance_units') | float %}
{%- set tolerance_share = var('reconciliation_tolerance_share') | float %}

with

stock_changes as (

    select * from {{ ref('int_stock_changes_explained') }}

),

shipments as (

    select * from {{ ref('fct_shipments') }}

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

received_per_interval as (

    -- A receipt belongs to the first count on or after the day it arrived, if it arrived after the count before.
    select
        stock_changes.partner_id,
        stock_changes.location_id,
        stock_changes.product_id,
        stock_changes.count_date,
        sum(received.qty) as received_qty,
        count(*) as shipments_received

    from received
    asof inner join stock_changes
        on received.partner_id = stock_changes.partner_id
        and received.location_id = stock_changes.location_id
        and received.product_id = stock_changes.product_id
        and received.receipt_date <= stock_changes.count_date
    where received.receipt_date > stock_changes.previous_count_date
    group by stock_changes.partner_id, stock_changes.location_id, stock_changes.product_id, stock_changes.count_date

),

expected as (

    select
        stock_changes.*,
        coalesce(received_per_interval.received_qty, 0) as received_qty,
        coalesce(received_per_interval.shipments_received, 0) as shipments_received,
        stock_changes.previous_on_hand_qty
            + coalesce(received_per_interval.received_qty, 0)
            - stock_changes.units_sold
            + stock_changes.units_returned as expected_on_hand_qty

    from stock_changes
    left join received_per_interval
        on stock_changes.partner_id = received_per_interval.partner_id
        and stock_changes.location_id = received_per_interval.location_id
        and stock_changes.product_id = received_per_interval.product_id
        and stock_changes.count_date = received_per_interval.count_date

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
            > greatest({{ tolerance_units }}, {{ tolerance_share }} * abs(expected_on_hand_qty)) as is_above_tolerance

    from expected

)

select * from final
