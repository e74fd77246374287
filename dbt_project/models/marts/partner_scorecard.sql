with

locations as (

    select * from {{ ref('dim_location') }}

),

partner_items as (

    select * from {{ ref('stg_supplier__partner_items') }}

),

products as (

    select * from {{ ref('dim_product') }}

),

feed_files as (

    select * from {{ ref('int_feed_files_dated') }}

),

feed_rejects as (

    select * from {{ ref('stg_partner_feeds__feed_rejects') }}

),

interchanges as (

    select * from {{ ref('stg_partner_feeds__edi_interchanges') }}

),

unresolved_rows as (

    select * from {{ ref('int_feed_rows_unresolved') }}

),

inventory as (

    select * from {{ ref('fct_inventory_daily') }}

),

daily_sales as (

    select * from {{ ref('fct_sales_daily') }}

),

reconciliation as (

    select * from {{ ref('stock_reconciliation') }}

),

forecast_scores as (

    select * from {{ ref('int_partner_forecasts_scored') }}

),

---------- what a partner should report: every item in its cross-reference at every one of its locations

expected_locations as (

    select partner_id, count(*) as locations_expected
    from locations
    group by partner_id

),

expected_products as (

    select partner_items.partner_id, count(distinct partner_items.product_id) as products_expected
    from partner_items
    inner join products
        on partner_items.product_id = products.product_id
    group by partner_items.partner_id

),

---------- one row per partner and ISO week (Monday to Sunday) from its first reported day to the business date

first_days as (

    select partner_id, min(inventory_date) as first_day from inventory group by partner_id
    union all
    select partner_id, min(sales_date) as first_day from daily_sales group by partner_id

),

partner_spans as (

    select partner_id, min(first_day) as first_day
    from first_days
    group by partner_id

),

week_spine as (

    select
        partner_id,
        first_day,
        cast(unnest(generate_series(
            cast(date_trunc('week', first_day) as date),
            cast(date_trunc('week', {{ as_of_date() }}) as date),
            interval 7 day
        )) as date) as week_start

    from partner_spans

),

weeks as (

    select
        partner_id,
        week_start,
        week_start + 6 as week_end,
        -- Days of the week the partner was live and that are over on the business date.
        date_diff('day', greatest(week_start, first_day), least(week_start + 6, {{ as_of_date() }})) + 1
            as days_in_week

    from week_spine

),

---------- feed timeliness and rejects, by the week of the day each file reports

files_by_week as (

    select
        partner_id,
        cast(date_trunc('week', business_date) as date) as week_start,
        count(*) filter (where is_daily_feed) as feed_files_received,
        count(*) filter (where is_daily_feed and is_late) as feed_files_late,
        max(greatest(hours_late, 0)) filter (where is_daily_feed) as feed_hours_late_max,
        avg(greatest(hours_late, 0)) filter (where is_daily_feed) as feed_hours_late_avg,
        count(*) filter (where status = 'quarantined') as files_quarantined,
        count(*) filter (where status = 'no_usable_rows') as files_without_usable_rows,
        cast(sum(delivery_count - 1) as integer) as files_resent_unchanged

    from feed_files
    where business_date <= {{ as_of_date() }}
    group by all

),

rejects_by_week as (

    select
        feed_files.partner_id,
        cast(date_trunc('week', feed_files.business_date) as date) as week_start,
        count(*) as rows_rejected

    from feed_rejects
    inner join feed_files
        on feed_rejects.source_file_id = feed_files.source_file_id
    where feed_files.business_date <= {{ as_of_date() }}
    group by all

),

interchanges_by_week as (

    -- EDI interchanges refused, or partly loaded, by the week of the day their file reports.
    select
        feed_files.partner_id,
        cast(date_trunc('week', feed_files.business_date) as date) as week_start,
        count(*) filter (where interchanges.outcome = 'refused') as interchanges_refused,
        count(*) filter (where interchanges.outcome = 'partly_loaded') as interchanges_partly_loaded

    from interchanges
    inner join feed_files
        on interchanges.source_file_id = feed_files.source_file_id
    where feed_files.business_date <= {{ as_of_date() }}
    group by all

),

unresolved_by_week as (

    select
        partner_id,
        cast(date_trunc('week', activity_date) as date) as week_start,
        count(*) as rows_unresolved,
        count(*) filter (where reason = 'unknown item') as rows_unknown_item,
        count(*) filter (where reason = 'unknown location') as rows_unknown_location,
        count(*) filter (where reason = 'unknown case pack') as rows_unknown_case_pack

    from unresolved_rows
    group by all

),

---------- completeness and in-stock, from the partner's counts and sales

stock_by_week as (

    select
        partner_id,
        cast(date_trunc('week', inventory_date) as date) as week_start,
        count(*) filter (where is_observed) as stock_series_days_reported,
        count(distinct location_id) filter (where is_observed) as locations_reported,
        count(distinct product_id) filter (where is_observed) as products_reported,
        count(*) filter (where on_hand_qty > 0) as series_days_in_stock,
        count(on_hand_qty) as series_days_with_stock

    from inventory
    group by all

),

sales_by_week as (

    select
        partner_id,
        cast(date_trunc('week', sales_date) as date) as week_start,
        count(*) filter (where not is_zero_filled) as sales_series_days_reported

    from daily_sales
    group by all

),

---------- reconciliation and the partner's own forecast

reconciliation_by_week as (

    select
        partner_id,
        cast(date_trunc('week', reconciliation_date) as date) as week_start,
        count(*) as reconciled_rows,
        count(*) filter (where not is_above_tolerance) as reconciled_within_tolerance

    from reconciliation
    group by all

),

forecasts_by_week as (

    select
        partner_id,
        cast(date_trunc('week', target_period_start) as date) as week_start,
        count(*) as forecast_series,
        -- Summed as decimals: the same rows give the same totals whatever order the threads add them in.
        cast(sum(cast(forecast_qty as decimal(38, 6))) as double) as forecast_qty,
        cast(sum(cast(actual_qty as decimal(38, 6))) as double) as actual_qty,
        cast(sum(cast(absolute_error_qty as decimal(38, 6))) as double) as absolute_error_qty,
        cast(sum(cast(error_qty as decimal(38, 6))) as double) as error_qty,
        cast(sum(cast(naive_absolute_error_qty as decimal(38, 6))) as double) as naive_absolute_error_qty

    from forecast_scores
    group by all

),

joined as (

    select
        weeks.*,
        coalesce(expected_locations.locations_expected, 0) as locations_expected,
        coalesce(expected_products.products_expected, 0) as products_expected,
        files_by_week.* exclude (partner_id, week_start),
        rejects_by_week.rows_rejected,
        interchanges_by_week.* exclude (partner_id, week_start),
        unresolved_by_week.* exclude (partner_id, week_start),
        stock_by_week.* exclude (partner_id, week_start),
        sales_by_week.sales_series_days_reported,
        reconciliation_by_week.* exclude (partner_id, week_start),
        forecasts_by_week.* exclude (partner_id, week_start)

    from weeks
    left join expected_locations on weeks.partner_id = expected_locations.partner_id
    left join expected_products on weeks.partner_id = expected_products.partner_id
    left join files_by_week
        on weeks.partner_id = files_by_week.partner_id and weeks.week_start = files_by_week.week_start
    left join rejects_by_week
        on weeks.partner_id = rejects_by_week.partner_id and weeks.week_start = rejects_by_week.week_start
    left join interchanges_by_week
        on weeks.partner_id = interchanges_by_week.partner_id
        and weeks.week_start = interchanges_by_week.week_start
    left join unresolved_by_week
        on weeks.partner_id = unresolved_by_week.partner_id
        and weeks.week_start = unresolved_by_week.week_start
    left join stock_by_week
        on weeks.partner_id = stock_by_week.partner_id and weeks.week_start = stock_by_week.week_start
    left join sales_by_week
        on weeks.partner_id = sales_by_week.partner_id and weeks.week_start = sales_by_week.week_start
    left join reconciliation_by_week
        on weeks.partner_id = reconciliation_by_week.partner_id
        and weeks.week_start = reconciliation_by_week.week_start
    left join forecasts_by_week
        on weeks.partner_id = forecasts_by_week.partner_id
        and weeks.week_start = forecasts_by_week.week_start

),

smoothed as (

    -- Four weeks smooth out the noise of a single week's forecast error.
    select
        *,
        sum(absolute_error_qty) over trailing_4_weeks as absolute_error_qty_4w,
        sum(error_qty) over trailing_4_weeks as error_qty_4w,
        sum(naive_absolute_error_qty) over trailing_4_weeks as naive_absolute_error_qty_4w,
        sum(actual_qty) over trailing_4_weeks as actual_qty_4w

    from joined
    window trailing_4_weeks as (
        partition by partner_id order by week_start rows between 3 preceding and current row
    )

),

final as (

    select

        ---------- ids
        partner_id,
        week_start,
        strftime(week_start, '%G-W%V') as iso_week,
        week_end,
        days_in_week,
        week_end <= {{ as_of_date() }} as is_complete_week,

        ---------- feed timeliness (daily stock and sales files, against the agreed cut-off)
        coalesce(feed_files_received, 0) as feed_files_received,
        coalesce(feed_files_late, 0) as feed_files_late,
        1.0 - feed_files_late / nullif(feed_files_received, 0) as feed_on_time_rate,
        feed_hours_late_avg,
        feed_hours_late_max,

        ---------- completeness: series-days reported against locations x cross-referenced products
        locations_expected,
        coalesce(locations_reported, 0) as locations_reported,
        products_expected,
        coalesce(products_reported, 0) as products_reported,
        locations_expected * products_expected * days_in_week as series_days_expected,
        coalesce(stock_series_days_reported, 0) as stock_series_days_reported,
        coalesce(sales_series_days_reported, 0) as sales_series_days_reported,
        coalesce(stock_series_days_reported, 0)
            / nullif(locations_expected * products_expected * days_in_week, 0) as stock_completeness_rate,
        coalesce(sales_series_days_reported, 0)
            / nullif(locations_expected * products_expected * days_in_week, 0) as sales_completeness_rate,

        ---------- rows we could not use
        coalesce(rows_rejected, 0) as rows_rejected,
        coalesce(files_quarantined, 0) as files_quarantined,
        coalesce(files_without_usable_rows, 0) as files_without_usable_rows,
        coalesce(files_resent_unchanged, 0) as files_resent_unchanged,
        coalesce(interchanges_refused, 0) as interchanges_refused,
        coalesce(interchanges_partly_loaded, 0) as interchanges_partly_loaded,
        coalesce(rows_unresolved, 0) as rows_unresolved,
        coalesce(rows_unknown_item, 0) as rows_unknown_item,
        coalesce(rows_unknown_location, 0) as rows_unknown_location,
        coalesce(rows_unknown_case_pack, 0) as rows_unknown_case_pack,

        ---------- stock reconciliation
        coalesce(reconciled_rows, 0) as reconciled_rows,
        coalesce(reconciled_within_tolerance, 0) as reconciled_within_tolerance,
        reconciled_within_tolerance / nullif(reconciled_rows, 0) as reconciliation_accuracy_rate,

        ---------- availability on the shelf
        series_days_in_stock / nullif(series_days_with_stock, 0) as in_stock_rate,

        ---------- the partner's own forecast against its sales (WAPE = sum|F-A| / sum A, bias = sum(F-A) / sum A)
        coalesce(forecast_series, 0) as forecast_series,
        forecast_qty,
        actual_qty,
        absolute_error_qty / nullif(actual_qty, 0) as forecast_wape,
        error_qty / nullif(actual_qty, 0) as forecast_bias,
        absolute_error_qty_4w / nullif(actual_qty_4w, 0) as forecast_wape_4w,
        error_qty_4w / nullif(actual_qty_4w, 0) as forecast_bias_4w,

        ---------- forecast value added: WAPE points the partner's forecast takes off a seasonal naive one
        -- (what sold the week before); ours against theirs is in forecasts.forecast_value_added
        naive_absolute_error_qty / nullif(actual_qty, 0) as naive_forecast_wape,
        (naive_absolute_error_qty - absolute_error_qty) / nullif(actual_qty, 0) as forecast_value_added,
        (naive_absolute_error_qty_4w - absolute_error_qty_4w) / nullif(actual_qty_4w, 0) as forecast_value_added_4w

    from smoothed

)

select * from final
