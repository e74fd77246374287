{#-
    Incremental daily facts (fct_inventory_daily, fct_sales_daily) re-compute a window each night instead of all
    history, and must end with exactly the rows a full refresh would give. The rule, per series:

    - a series the table does not hold yet (new partner, new item, a history file) is built from its first day;
    - a series with rows delivered since the last build (`received_at` later than the newest in the table, say a
      partner's resend of an old week) is re-built from the earliest day those rows describe;
    - every series is re-built over the lookback window: the last `fact_lookback_days` days up to the business
      date, reaching back further when nights were skipped (to the day after the newest day in the table).

    Before the window is re-built, the pre-hook deletes every row dated in it or later, so a replay of an earlier
    business date leaves no rows from later nights. What no rule can see are removals older than the window (a
    file quarantined after it loaded) and master-data changes for series already built: run with --full-refresh.
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
    {%- set present = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- set missing = required_columns | reject('in', present) | list -%}
    {{ return(missing | length == 0) }}
{%- endmacro %}


{#- First day of the lookback window, as a SQL date expression on the existing table. -#}
{% macro fact_window_start(date_column) -%}
    {%- set lookback_start = as_of_date() ~ ' - ' ~ (fact_lookback_days() - 1) -%}
    least({{ lookback_start }}, coalesce((select max({{ date_column }}) from {{ this }}) + 1, {{ lookback_start }}))
{%- endmacro %}


{#- Pre-hook: clear the window (or the whole table when it must be re-built) before the new rows go in. -#}
{% macro delete_fact_window(date_column, required_columns) -%}
    {%- if is_incremental() -%}
        {%- if incremental_target_is_current(required_columns) -%}
            delete from {{ this }} where {{ date_column }} >= {{ fact_window_start(date_column) }}
        {%- else -%}
            delete from {{ this }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#-
    The `rebuild_windows` CTE both daily facts share: per series, the first day to re-build (see the rule above).
    `late_relation` is the model's CTE of `first_late_date` per series for rows delivered since the last build.
-#}
{% macro rebuild_windows(incremental_run, first_date_column, date_column, late_relation) -%}
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
