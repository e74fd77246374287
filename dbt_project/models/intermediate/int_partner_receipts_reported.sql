with

sales as (

    select * from {{ ref('int_sales_resolved') }}

),

files_reporting_receipts as (

    select distinct source_file_id
    from sales
    where units_received is not null

),

reported as (

    select

        ---------- ids
        sales.partner_id,
        sales.location_id,
        sales.product_id,

        ---------- period (inclusive)
        sales.period_start,
        sales.period_end,
        sales.period_days,

        ---------- what arrived
        -- EDI leaves out zero activity: in a file that reports receipts, a line without one received nothing.
        coalesce(sales.units_received, 0) as units_received,
        sales.units_received is null as is_zero_inferred,

        ---------- lineage
        sales.source_file_id,
        sales.source_line,
        sales.received_at,
        sales.loaded_at

    from sales
    semi join files_reporting_receipts
        on sales.source_file_id = files_reporting_receipts.source_file_id

),

final as (

    select reported.*
    from reported
    -- Where two reported periods of a series overlap (a weekly total and a daily figure for one of its days), the
    -- longer one already holds the other's receipts: it wins, then the later delivery, so nothing counts twice.
    anti join reported as wider
        on reported.partner_id = wider.partner_id
        and reported.location_id = wider.location_id
        and reported.product_id = wider.product_id
        and wider.period_start <= reported.period_end
        and wider.period_end >= reported.period_start
        and (
            wider.period_days > reported.period_days
            or (
                wider.period_days = reported.period_days
                and (wider.received_at, wider.source_file_id, wider.source_line)
                    > (reported.received_at, reported.source_file_id, reported.source_line)
            )
        )

)

select * from final
