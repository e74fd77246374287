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

stock_days as (

    -- The day column stg_partner_feeds__stock calls snapshot_date.
    select
        source_file_id,
        'stock' as feed,
        min(cast(as_of_date as date)) as first_day,
        max(cast(as_of_date as date)) as last_day,
        count(*) as row_count

    from stock
    group by source_file_id

),

sales_days as (

    -- A sales row is dated by the end of its period (stg_partner_feeds__sales' period_end): it is used once over.
    select
        source_file_id,
        'sales' as feed,
        min(cast(period_end as date)) as first_day,
        max(cast(period_end as date)) as last_day,
        count(*) as row_count

    from sales
    group by source_file_id

),

final as (

    select * from stock_days
    union all
    select * from sales_days

)

select * from final
