with

feed_files as (

    select * from {{ ref('stg_partner_feeds__feed_files') }}

),

partners as (

    select * from {{ ref('stg_supplier__partners') }}

),

-- A file's business date needs all of its lines, also those a later resend superseded (which staging drops),
-- so the dates come straight from the parsed lines.
stock_lines as (

    select * from {{ source('raw', 'stock_snapshots') }}

),

sales_lines as (

    select * from {{ source('raw', 'sales') }}

),

forecast_lines as (

    select * from {{ source('raw', 'partner_forecasts') }}

),

file_line_dates as (

    select source_file_id, cast(as_of_date as date) as line_date, count(*) as line_count
    from stock_lines
    group by all

    union all

    select source_file_id, cast(period_end as date) as line_date, count(*) as line_count
    from sales_lines
    group by all

    union all

    select source_file_id, cast(forecast_date as date) as line_date, count(*) as line_count
    from forecast_lines
    group by all

),

arrivals as (

    select
        feed_files.*,
        partners.timezone,
        partners.feed_cutoff_local,
        -- received_at is naive UTC; the partner's clock decides which morning it was. A folder no partner is
        -- configured for (a new partner, a stray folder) has no clock: UTC dates its files.
        cast(
            timezone(coalesce(partners.timezone, 'UTC'), timezone('UTC', feed_files.received_at)) as date
        ) as received_local_date

    from feed_files
    left join partners
        on feed_files.partner_id = partners.partner_id

),

dated as (

    select
        arrivals.*,
        file_dates.line_count,
        file_dates.last_line_date

    from arrivals
    left join (
        select
            arrivals.source_file_id,
            cast(sum(file_line_dates.line_count) as integer) as line_count,
            -- A stock or sales line dated after the file arrived (a typo, a planned count) does not make the
            -- file newer; a forecast may be dated for the day after it was sent.
            max(file_line_dates.line_date) filter (
                where file_line_dates.line_date <= arrivals.received_local_date
                   or arrivals.record_type not in ('stock', 'sales')
            ) as last_line_date

        from arrivals
        inner join file_line_dates
            on arrivals.source_file_id = file_line_dates.source_file_id
        group by arrivals.source_file_id
    ) as file_dates
        on arrivals.source_file_id = file_dates.source_file_id

),

due as (

    select
        *,
        -- The newest day in the file; a file without usable lines (undecodable) is taken for the day before
        -- it came, since a day's file is sent the next morning.
        coalesce(last_line_date, received_local_date - 1) as business_date,
        last_line_date is null as is_business_date_inferred,
        -- Only daily stock and sales feeds have a cut-off; forecasts come weekly on their own rhythm.
        record_type in ('stock', 'sales') as is_daily_feed

    from dated

),

timed as (

    select
        *,
        -- Due: the morning after the business date, at the partner's local cut-off, as naive UTC like received_at.
        case
            when is_daily_feed then timezone(
                'UTC', timezone(timezone, (business_date + 1) + try_cast(feed_cutoff_local as time))
            )
        end as due_at

    from due

),

final as (

    select

        ---------- ids
        source_file_id,
        partner_id,
        record_type,
        file_format,
        file_path,

        ---------- outcome
        status,
        status_reason,
        rows_parsed,
        rows_rejected,
        delivery_count,
        line_count,

        ---------- the day the file reports
        business_date,
        is_business_date_inferred,

        ---------- on time?
        is_daily_feed,
        due_at,
        received_at,
        date_diff('second', due_at, received_at) / 3600.0 as hours_late,
        received_at > due_at as is_late

    from timed

)

select * from final
