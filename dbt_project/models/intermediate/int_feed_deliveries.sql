{#-
    Per delivery in the feed ledger, the business dates its lines report: what the feed freshness checks
    (expectations/freshness_checks.py) judge against each partner's cut-off. Reads the ledger rows themselves,
    not stg_partner_feeds__feed_files, which keeps one row per content hash: a duplicate delivery is a ledger row
    of its own, and the checks decide which statuses count as delivered.
-#}

with

feed_files as (

    select * from {{ source('raw', 'feed_files') }}

),

partners as (

    select * from {{ ref('stg_supplier__partners') }}

),

-- A file's business dates need all of its lines, also those a later resend superseded (which staging drops),
-- so the dates come straight from the parsed lines, as in int_feed_files_dated.
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

    -- Per file and line period: the first and last day it reports.
    select
        source_file_id,
        'stock' as record_type,
        cast(as_of_date as date) as first_date,
        cast(as_of_date as date) as last_date
    from stock_lines
    group by all

    union all

    select
        source_file_id,
        'sales' as record_type,
        cast(coalesce(period_start, period_end) as date) as first_date,
        cast(coalesce(period_end, period_start) as date) as last_date
    from sales_lines
    group by all

    union all

    select
        source_file_id,
        'forecast' as record_type,
        cast(forecast_date as date) as first_date,
        cast(forecast_date as date) as last_date
    from forecast_lines
    group by all

),

deliveries as (

    select
        cast(feed_files.source_file_id as varchar) as source_file_id,
        cast(trim(feed_files.partner_id) as varchar) as partner_id,
        lower(trim(feed_files.record_type)) as record_type,
        cast(feed_files.path as varchar) as file_path,
        lower(trim(feed_files.status)) as status,
        cast(feed_files.received_at as timestamp) as received_at,
        partners.timezone,
        -- received_at is naive UTC; the partner's clock decides which morning it was.
        cast(timezone(partners.timezone, timezone('UTC', cast(feed_files.received_at as timestamp))) as date)
            as received_local_date

    from feed_files
    left join partners
        on trim(feed_files.partner_id) = partners.partner_id

),

dated as (

    select
        deliveries.source_file_id,
        deliveries.file_path,
        -- A stock or sales line dated after the file arrived (a typo, a planned count) does not make the file
        -- newer; a forecast may be dated for the day after it was sent.
        min(file_line_dates.first_date) filter (
            where file_line_dates.last_date <= deliveries.received_local_date
               or deliveries.record_type = 'forecast'
        ) as first_business_date,
        max(file_line_dates.last_date) filter (
            where file_line_dates.last_date <= deliveries.received_local_date
               or deliveries.record_type = 'forecast'
        ) as last_business_date

    from deliveries
    inner join file_line_dates
        on deliveries.source_file_id = file_line_dates.source_file_id
        and deliveries.record_type = file_line_dates.record_type
    group by deliveries.source_file_id, deliveries.file_path

),

final as (

    select

        ---------- ids
        deliveries.source_file_id,
        deliveries.file_path,
        deliveries.partner_id,
        deliveries.record_type,

        ---------- outcome
        deliveries.status,

        ---------- when it came, on the partner's clock
        deliveries.received_at,
        deliveries.timezone,
        deliveries.received_local_date,

        ---------- the business dates its lines report (null: none usable, e.g. an undecodable file)
        dated.first_business_date,
        dated.last_business_date

    from deliveries
    left join dated
        on deliveries.source_file_id = dated.source_file_id
        and deliveries.file_path is not distinct from dated.file_path

)

select * from final
