{#-
    Incremental daily facts (fct_inventory_daily, int_sales_daily shown by the fct_sales_daily view) re-compute a
    window each night instead of all history, and must end with exactly the rows a full refresh would give. The
    rule, per series:

    - a series the table does not hold yet (new partner, new item, a history file) is built from its first day;
    - a series with rows delivered since the last build (received or loaded later than the newest in the table,
      delivered_since_last_build: say a partner's resend of an old week) is re-built from the earliest day those
      rows describe;
    - a series holding rows received at or after this run's knowledge cut (known_before(): a past night replayed
      after later nights, say a resend of an old week or a weekly report that came later) is re-built from the
      earliest day of those rows, so it shows only what the night could have known: a second pre-hook
      (delete_unknown_fact_days) deletes the series' rows from that day on, and the series is re-built from the day
      after the last row it kept, or from its first day when none is left (days before the first known one, from a
      history file received later, go too);
    - every series is re-built over the lookback window: the last `fact_lookback_days` days up to the business
      date, reaching back further when nights were skipped (to the day after the newest day in the table).

    Before the window is re-built, the pre-hook deletes every row dated in it or later, so a replay of an earlier
    business date leaves no rows from later nights. The cut is judged by each fact's own `received_at`, the
    delivery its row shows: on a normal night no row is that new, DuckDB skips every row group on its
    `received_at` range and the second pre-hook deletes nothing. So a replay still keeps what a row does not
    carry: int_sales_daily's `is_stockout` from a count received after the cut for a day older than the window
    (its `received_at` is the sales line's). Nor does a rule per series see a count that says something about the
    location's other items: a late count (or one after a replay's cut) of location L on a day older than the
    window leaves the other items at L with the `is_location_counted` (and so `is_stockout`) they had. What no
    rule can see either are removals (a loaded file taken out of the ledger or marked quarantined by hand) and
    master-data changes for series already built. In all these cases run with --full-refresh.

    The partner feed staging tables and the resolved feed tables (int_stock_resolved, int_sales_resolved,
    int_partner_forecasts_resolved) follow the same rule with one first day for all series (rebuild_from_date,
    below), and so do the tables worked out from those and the facts: int_stock_changes_explained
    (stock_change_deliveries) and stock_reconciliation (reconciliation_rebuild_from), whose rows keep the newest
    delivery they were worked out from. The resolved tables re-build themselves whole when the master data their references resolve through
    changed (a cross-reference or location learnt, a case pack learnt or changed); the facts do not see that
    change, as it delivers no new row: after a changed case pack or cross-reference for series already built, run
    the facts (or the whole night) with --full-refresh. A removal needs --full-refresh for the staging tables and
    everything downstream: the staging tables have no lookback window, so they keep a removed file's rows whatever
    their age.
-#}

{#- The lookback in days, checked once so a typo in `--vars` fails the run instead of skipping nights. -#}
{% macro fact_lookback_days() -%}
    {%- set value = var('fact_lookback_days') | string | trim -%}
    {%- if not modules.re.fullmatch('[1-9][0-9]*', value) -%}
        {{ exceptions.raise_compiler_error(
            "var fact_lookback_days must be a whole number of days >= 1, got '" ~ value ~ "'"
        ) }}
    {%- endif -%}
    {{ return(value | int) }}
{%- endmacro %}


{#-
    True when this run adds to an existing table built with the current columns. A table built before
    `required_columns` existed (or a --full-refresh) is re-built whole, so old rows never lack the new columns.
-#}
{% macro incremental_target_is_current(required_columns) -%}
    {%- if not is_incremental() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set missing = required_columns | reject('in', relation_column_names(this)) | list -%}
    {{ return(missing | length == 0) }}
{%- endmacro %}


{#- First day of the lookback window, as a SQL date expression on the existing table. -#}
{% macro fact_window_start(date_column) -%}
    {%- set lookback_start = as_of_date() ~ ' - ' ~ (fact_lookback_days() - 1) -%}
    least({{ lookback_start }}, coalesce((select max({{ date_column }}) from {{ this }}) + 1, {{ lookback_start }}))
{%- endmacro %}


{#- Pre-hook: clear the window (or the whole table when it must be re-built) before the new rows go in. -#}
{% macro delete_fact_window(date_column, required_columns) -%}
    {%- set window_start = fact_window_start(date_column) if incremental_target_is_current(required_columns) -%}
    {{ delete_rebuilt_rows(date_column, window_start or none) }}
{%- endmacro %}


{#-
    Second pre-hook: delete each series' rows from the first day it holds a row received at or after the knowledge
    cut (first_unknown_days), so rebuild_windows re-builds it from there. A join, not a condition on every row: on
    a normal night it finds no such series and the join reads no fact row.
-#}
{% macro delete_unknown_fact_days(date_column, required_columns) -%}
    {%- if incremental_target_is_current(required_columns) -%}
        delete from {{ this }} as facts
        using ({{ first_unknown_days(date_column) }}) as unknown
        where facts.partner_id = unknown.partner_id
            and facts.location_id = unknown.location_id
            and facts.product_id = unknown.product_id
            and facts.{{ date_column }} >= unknown.first_unknown_date
    {%- endif -%}
{%- endmacro %}


{#-
    Per series of an incremental fact, the first day of its rows received at or after this run's knowledge cut. On
    a normal night no row is, and DuckDB skips the table's row groups on their `received_at` range.
-#}
{% macro first_unknown_days(date_column) -%}
    select
        partner_id,
        location_id,
        product_id,
        min({{ date_column }}) as first_unknown_date

    from {{ this }}
    where received_at >= {{ known_before() }}
    group by partner_id, location_id, product_id
{%- endmacro %}


{#-
    A condition on the rows an incremental fact is built from: delivered since its last build, received after the
    newest row it holds or loaded after it (a file quarantined at first and loaded nights later, once its
    partner's configuration was mended, keeps the time it arrived). A table built before its rows carried
    `loaded_at` gets the column on this build (on_schema_change) and goes by the arrival time this once.
-#}
{% macro delivered_since_last_build() -%}
    (
        received_at > (select max(received_at) from {{ this }})
        {%- if relation_has_column(this, 'loaded_at') %}
        or loaded_at > (select max(loaded_at) from {{ this }})
        {%- endif %}
    )
{%- endmacro %}


{#- True when `relation` has `column` (case-insensitive); false when it does not exist, or while dbt only parses. -#}
{% macro relation_has_column(relation, column) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(column | lower in relation_column_names(relation)) }}
{%- endmacro %}


{#- The lower-cased column names of `relation` (none when it does not exist). -#}
{% macro relation_column_names(relation) -%}
    {{ return(adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list) }}
{%- endmacro %}


{#- Pre-hook of an incremental model: delete every row dated `rebuild_from` or later, or every row when it is none. -#}
{% macro delete_rebuilt_rows(date_column, rebuild_from) -%}
    {%- if is_incremental() -%}
        {%- if rebuild_from is not none -%}
            delete from {{ this }} where {{ date_column }} >= {{ rebuild_from }}
        {%- else -%}
            delete from {{ this }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#-
    The CTEs both daily facts share: `built_series`, every series the table holds with its newest day, and
    `rebuild_windows`, per series the first day to re-build (see the rule above). They read the table after the
    pre-hooks, so a series whose rows delete_unknown_fact_days cut short is re-built from the day after the last
    it kept; on other nights every series the table holds ends the day before the window. `late_relation` is the
    model's CTE of `first_late_date` per series for rows delivered since the last build.
-#}
{% macro rebuild_windows(incremental_run, first_date_column, date_column, late_relation) -%}
{%- if incremental_run %}

built_series as (

    select
        partner_id,
        location_id,
        product_id,
        max({{ date_column }}) as last_built_date

    from {{ this }}
    group by partner_id, location_id, product_id

),
{%- endif %}

rebuild_windows as (

{%- if incremental_run %}

    select
        series.partner_id,
        series.location_id,
        series.product_id,
        case
            when built_series.partner_id is null then series.{{ first_date_column }}
            else greatest(
                series.{{ first_date_column }},
                least(
                    {{ fact_window_start(date_column) }},
                    built_series.last_built_date + 1,
                    coalesce({{ late_relation }}.first_late_date, {{ as_of_date() }})
                )
            )
        end as rebuild_from_date

    from series
    left join built_series
        on series.partner_id = built_series.partner_id
        and series.location_id = built_series.location_id
        and series.product_id = built_series.product_id
    left join {{ late_relation }}
        on series.partner_id = {{ late_relation }}.partner_id
        and series.location_id = {{ late_relation }}.location_id
        and series.product_id = {{ late_relation }}.product_id

{%- else %}

    select
        partner_id,
        location_id,
        product_id,
        {{ first_date_column }} as rebuild_from_date

    from series

{%- endif %}

),
{%- endmacro %}


{#-
    The tables of reported rows keep one row per reported key rather than a day per series: the partner feeds'
    staging tables (stg_partner_feeds__stock, __sales and __forecasts, the latest delivery of each key) and the
    resolved tables the facts read (int_stock_resolved, int_sales_resolved). A night re-builds every row dated on
    or after one first day for all series, the least of

    - the first day any delivery since the last build reports (`deliveries`, below): a resend of an old week, a
      history file, a new series' first rows. A delivery is new when it was received after the newest row the
      table holds from before this run's knowledge cut, or loaded after it: a file quarantined at first and loaded
      nights later, once its partner's configuration was mended, keeps the time it arrived;
    - the first day of any row in the table received at or after this run's knowledge cut: a past night replayed
      after later nights must not keep what it could not know yet;
    - with `lookback`, the lookback window's first day (fact_window_start: `fact_lookback_days` up to the business
      date, reaching back when nights were skipped). The staging tables go without: their rows change only with
      the deliveries and the knowledge cut (and with a removal, which needs --full-refresh).

    One day for all series because it is a constant: DuckDB applies it below the ranking of each key's rows, so a
    night ranks only the days it re-builds, where a bound per series would rank all history first. The day is
    worked out when dbt runs the model, before the pre-hook deletes, and the pre-hook works out the same day.

    `deliveries` is a select of the rows the model is built from, as `reported_day`, `received_at` and
    `loaded_at`: staged_deliveries() for a staging table, the staging table for a resolved one.

    Returns a date literal, or none when the table must be re-built whole: a first build or --full-refresh, a
    table built before `required_columns` existed, an empty table, or, with `partner_refs`, master data the
    partner references are resolved through (items, case packs, locations) that changed since the last build: a
    cross-reference or a location learnt later makes rows delivered long ago resolve, and a case pack learnt or
    changed converts them (remember_partner_refs, macros/resolve_partner_refs.sql). With `settings` (vars the rows
    were worked out with, say a tolerance), a change of those too. A staging table with nothing
    new and no row from after the cut gets a day later than any reported, and re-builds nothing.
-#}
{% macro rebuild_from_date(date_column, deliveries, required_columns, lookback=true, partner_refs=true, settings='') -%}
    {%- if not execute or not incremental_target_is_current(required_columns) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if partner_refs and built_with(settings) != remembered_partner_refs() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        with

        built as (

            -- Newest before the cut: on a replay, the rows from later deliveries are re-built anyway.
            select
                count(*) as built_rows,
                coalesce(
                    max(received_at) filter (where received_at < {{ known_before() }}), timestamp '-infinity'
                ) as newest_received_at,
                -- A table built before rows carried loaded_at: only the arrival time tells, this once.
                {%- if relation_has_column(this, 'loaded_at') %}
                coalesce(
                    max(loaded_at) filter (where received_at < {{ known_before() }}), timestamp 'infinity'
                ) as newest_loaded_at,
                {%- else %}
                timestamp 'infinity' as newest_loaded_at,
                {%- endif %}
                min({{ date_column }}) filter (where received_at >= {{ known_before() }}) as first_unknown_day

            from {{ this }}

        ),

        deliveries as (

            {{ deliveries }}

        ),

        late as (

            select min(deliveries.reported_day) as first_late_day
            from deliveries
            where coalesce(deliveries.received_at < {{ known_before() }}, true)
                and (
                    deliveries.received_at > (select newest_received_at from built)
                    or deliveries.loaded_at > (select newest_loaded_at from built)
                )

        ),

        after_cut as (

            -- None, unless what the model reads was built for a later night (staged_days).
            select count(*) as rows_after_cut
            from deliveries
            where deliveries.received_at >= {{ known_before() }}

        )

        select
            built.built_rows,
            after_cut.rows_after_cut,
            cast(least(
                {%- if lookback %}
                {{ fact_window_start(date_column) }},
                {%- endif %}
                coalesce(late.first_late_day, date '9999-12-31'),
                coalesce(built.first_unknown_day, date '9999-12-31')
            ) as varchar) as rebuild_from

        from built, late, after_cut
    {%- endset -%}
    {%- set row = run_query(query).rows[0] -%}
    {%- if row['rows_after_cut'] > 0 -%}
        {{ exceptions.raise_compiler_error(
            this ~ " would be built from rows received after this night's knowledge cut: what it reads was built for "
            ~ "a later night. Build it in the same run as the models it reads (dbt build -s +"
            ~ this.identifier ~ ")."
        ) }}
    {%- endif -%}
    {%- if row['built_rows'] == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return("date '" ~ row['rebuild_from'] ~ "'") }}
{%- endmacro %}


{#-
    The first day a partner feed staging table (stg_partner_feeds__stock, __sales, __forecasts) re-builds, or none
    to build it whole (rebuild_from_date, without the lookback or the master data). A table kept up to date night
    by night: each night deletes (its pre-hook) and ranks again only the rows dated from the first day the night's
    new deliveries report, or on a replayed earlier night the first day of its rows received after that night's
    cut, and appends them; so the models and tests downstream read the ranked rows instead of ranking every raw
    row ever received. `day_column` is the table's day, `raw_day_column` the same day in raw `raw_table`. A table
    built before it carried `loaded_at` is re-built whole.
-#}
{% macro staged_rebuild_from(day_column, raw_table, raw_day_column) -%}
    {{ return(rebuild_from_date(
        day_column,
        staged_deliveries(raw_table, raw_day_column),
        ['received_at', 'loaded_at'],
        lookback=false,
        partner_refs=false,
    )) }}
{%- endmacro %}


{#-
    The deliveries of a partner feed staging table, for rebuild_from_date: each raw row of a file the ledger counts
    tonight (known_delivery), with the day it reports (`day_column` of raw `raw_table`, the staging table's day)
    and the file's arrival and load times. The ledger side is a few hundred files: DuckDB filters it first and
    reads only the raw rows' file ids and days.
-#}
{% macro staged_deliveries(raw_table, day_column) -%}
    select
        cast(feed_rows.{{ day_column }} as date) as reported_day,
        feed_files.received_at,
        feed_files.loaded_at

    from {{ source('raw', raw_table) }} as feed_rows
    inner join {{ ref('stg_partner_feeds__feed_files') }} as feed_files
        on feed_rows.source_file_id = feed_files.source_file_id
    where {{ known_delivery('feed_files') }}
{%- endmacro %}


{#-
    The deliveries of a resolved table, for rebuild_from_date: the rows of its partner feed staging table
    (`staging_model`), with the day each reports. The staging table must have been built with this night's
    knowledge cut, in the same run: one built for a later night holds rows received after the cut, and
    rebuild_from_date stops the build rather than resolve them (one built for an earlier night lacks rows, which
    the next night that builds both takes as late).
-#}
{% macro staged_days(staging_model, day_column) -%}
    select
        {{ day_column }} as reported_day,
        received_at,
        loaded_at

    from {{ ref(staging_model) }}
{%- endmacro %}


{#-
    The deliveries of int_stock_changes_explained, for rebuild_from_date: the resolved counts and the daily sales
    (a zero-filled day has no delivery), with the day each reports. Both are built before it in the same night, so
    on a replayed night neither holds a row received after the cut.
-#}
{% macro stock_change_deliveries() -%}
    {{ staged_days('int_stock_resolved', 'snapshot_date') }}

    union all

    {{ staged_days('int_sales_daily', 'sales_date') }}
    where received_at is not null
{%- endmacro %}


{#-
    The first day stock_reconciliation re-builds, or none to build it whole: the least of rebuild_from_date's day
    for its partner deliveries (the stock changes, the receipts partners reported; built whole when the master data
    or the tolerance changed, reconciliation_settings) and the first day of any receipt it reads that differs from
    what its last build read (reconciled_receipts): one of our shipments received differently (dated, moved,
    undone, or its quantity changed: a count or a report matched it, the business date moved past its grace days,
    the supplier's file changed), or a receipt a partner reported that came, went or changed. Those carry no
    delivery time the rows show, so the build keeps the ones it used (remember_reconciled_receipts, in
    intermediate.stock_reconciliation_receipts_used) and compares; without that table it is built whole.
-#}
{% macro reconciliation_rebuild_from(required_columns) -%}
    {%- set from_deliveries = rebuild_from_date(
        'reconciliation_date', reconciliation_deliveries(), required_columns, settings=reconciliation_settings()
    ) -%}
    {%- if from_deliveries is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set seen = reconciled_receipts_relation() -%}
    {%- set kept_columns = ['receipt_source', 'partner_id', 'location_id', 'product_id', 'shipment_id', 'first_day',
        'last_day', 'qty'] -%}
    {#- No table kept, or one of another shape (kept by an earlier version): build whole, and keep this shape. -#}
    {%- if adapter.get_relation(seen.database, seen.schema, seen.identifier) is none
        or relation_column_names(seen) != kept_columns -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        with

        received as (

            {{ reconciled_receipts() }}

        ),

        changed as (

            (select * from received except select * from {{ seen }})
            union all
            (select * from {{ seen }} except select * from received)

        )

        select cast(min(first_day) as varchar) as first_changed_day
        from changed
    {%- endset -%}
    {%- set first_changed_day = run_query(query).rows[0]['first_changed_day'] -%}
    {%- set first_delivered_day = from_deliveries.split("'")[1] -%}
    {%- if first_changed_day is none or first_delivered_day <= first_changed_day -%}
        {{ return(from_deliveries) }}
    {%- endif -%}
    {{ return("date '" ~ first_changed_day ~ "'") }}
{%- endmacro %}


{#- The partner deliveries stock_reconciliation is worked out from, for rebuild_from_date. -#}
{% macro reconciliation_deliveries() -%}
    {{ staged_days('int_stock_changes_explained', 'count_date') }}

    union all

    {{ staged_days('int_partner_receipts_reported', 'period_start') }}
{%- endmacro %}


{#-
    The receipts stock_reconciliation reads, whose change re-builds it from their first day: our shipments received
    (a day each) and the receipts partners reported for a period. A reported receipt can leave without a delivery
    the rows show: a resend of its period from a file that reports no receipts, or a wider period received later
    that supersedes it (and on a replay, such a period received after the cut goes and the narrower ones return).
-#}
{% macro reconciled_receipts() -%}
    select
        'shipment' as receipt_source,
        partner_id,
        location_id,
        product_id,
        shipment_id,
        receipt_date as first_day,
        receipt_date as last_day,
        qty

    from {{ ref('fct_shipments') }}
    where receipt_date is not null

    union all

    select
        'reported' as receipt_source,
        partner_id,
        location_id,
        product_id,
        null as shipment_id,
        period_start as first_day,
        period_end as last_day,
        units_received as qty

    from {{ ref('int_partner_receipts_reported') }}
{%- endmacro %}


{#- The vars stock_reconciliation's rows are worked out with: a change re-builds it whole. -#}
{% macro reconciliation_settings() -%}
    {{ return(
        'reconciliation_tolerance_units=' ~ var('reconciliation_tolerance_units')
        ~ ';reconciliation_tolerance_share=' ~ var('reconciliation_tolerance_share')
    ) }}
{%- endmacro %}


{#-
    Where stock_reconciliation keeps the receipts its last build used: named after it, beside the intermediate
    tables it reads, out of the marts people query.
-#}
{% macro reconciled_receipts_relation() -%}
    {%- set beside = ref('int_stock_changes_explained') -%}
    {{ return(api.Relation.create(
        database=beside.database, schema=beside.schema, identifier=this.identifier ~ '_receipts_used'
    )) }}
{%- endmacro %}


{#- Post-hook of stock_reconciliation: keep the receipts this build used, for the next night to compare. -#}
{% macro remember_reconciled_receipts() -%}
    {%- if execute -%}
        create or replace table {{ reconciled_receipts_relation() }} as {{ reconciled_receipts() }}
    {%- endif -%}
{%- endmacro %}


{#-
    The counts the re-built days of a daily fact can take as last known (`counts`, rows of int_stock_resolved):
    per series with a rebuild window (`windows`, rebuild_windows), its counts from the window's first day and the
    last one before it. An as-of join of the re-built days to these matches what it would match in all history,
    and sorts a window's rows instead of every count ever made (at 10,080 series most of the facts' nightly time).
    A first build or --full-refresh (`incremental_run` false) re-builds every day, from all counts.
-#}
{% macro counts_carried_into(counts, windows, incremental_run) -%}
    {%- if not incremental_run %}
    select * from {{ counts }}
    {%- else %}
    select {{ counts }}.*
    from {{ counts }}
    inner join {{ windows }}
        on {{ counts }}.partner_id = {{ windows }}.partner_id
        and {{ counts }}.location_id = {{ windows }}.location_id
        and {{ counts }}.product_id = {{ windows }}.product_id
    where {{ counts }}.snapshot_date >= {{ windows }}.rebuild_from_date

    union all

    select {{ counts }}.*
    from {{ counts }}
    inner join (
        select
            earlier.partner_id,
            earlier.location_id,
            earlier.product_id,
            max(earlier.snapshot_date) as snapshot_date

        from {{ counts }} as earlier
        inner join {{ windows }}
            on earlier.partner_id = {{ windows }}.partner_id
            and earlier.location_id = {{ windows }}.location_id
            and earlier.product_id = {{ windows }}.product_id
        where earlier.snapshot_date < {{ windows }}.rebuild_from_date
        group by earlier.partner_id, earlier.location_id, earlier.product_id
    ) as last_before
        on {{ counts }}.partner_id = last_before.partner_id
        and {{ counts }}.location_id = last_before.location_id
        and {{ counts }}.product_id = last_before.product_id
        and {{ counts }}.snapshot_date = last_before.snapshot_date
    {%- endif %}
{%- endmacro %}
