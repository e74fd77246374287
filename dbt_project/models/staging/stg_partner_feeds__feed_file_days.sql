{#-
    Which days each delivered file reports, read from the raw rows without staging's one-row-per-key ranking, so an
    incremental model can ask "how far back do tonight's new files reach?" without ranking every row ever
    received (macros/incremental_window.sql, rebuild_from_date). Ledger status and arrival time are the feed
    ledger's (stg_partner_feeds__feed_files); join on source_file_id.
-#}

with

stock as (

    select * from {{ source('raw', 'stock_snapshots') }}

),

sales as (

    select * from {{ source('raw', 'sales') }}

),

file_rows as (

    -- Each row's day: a count's date (stg_partner_feeds__stock's snapshot_date), a sale's period end
    -- (stg_partner_feeds__sales' period_end: a period is used once it is over).
    select source_file_id, 'stock' as feed, cast(as_of_date as date) as reported_day
    from stock

    union all

    select source_file_id, 'sales' as feed, cast(period_end as date) as reported_day
    from sales

),

final as (

    select
        source_file_id,
        feed,
        min(reported_day) as first_day,
        max(reported_day) as last_day,
        count(*) as row_count

    from file_rows
    group by source_file_id, feed

)

select * from final
