{#-
    The first instant (UTC timestamp, as the ledger's `received_at`) whose partner deliveries this run does not see:
    a night for a past business date sees only the files that had arrived by then, so a backfill judges and plans
    on what the night itself would have had. A `known_before` var wins; else an `as_of_date` var brings its own cut
    (the rule below), so a date given in --vars is never paired with another night's cut from the environment; else
    the nightly's CMI_DBT_KNOWN_BEFORE environment variable (orchestration.runtime.partitions.known_before), read
    only when dbt runs, as `as_of_date()` reads the date. Without any, the same rule: midnight at the end of the
    day after the business date. A dbt started by Dagster (DAGSTER_DBT_CLI) with none of them stops instead.

    Like `as_of_date()`, it must not be used where dbt renders at parse time: in config(), alias or schema, a yml
    `where:`, or an {% if %} that decides a model's structure.
-#}
{#-
    The project's one knowledge cut, for every feed: the night of D sees the deliveries received before midnight
    UTC at the start of D + this many days. known_before and known_on both take it from here; it is
    orchestration.runtime.partitions.KNOWLEDGE_DAYS_AFTER_BUSINESS_DATE, and a unit test holds the two equal.
-#}
{% macro knowledge_days_after_business_date() -%}
    2
{%- endmacro %}

{% macro known_before() -%}
    {%- set value = var('known_before', none) -%}
    {%- set date_var = var('as_of_date', none) -%}
    {%- set no_date_var = date_var is none or date_var | string | trim == '' -%}
    {%- if (value is none or value | string | trim == '') and no_date_var and execute -%}
        {%- set value = env_var('CMI_DBT_KNOWN_BEFORE', '') -%}
        {%- if value | trim == '' and env_var('DAGSTER_DBT_CLI', '') == 'true' -%}
            {{ exceptions.raise_compiler_error("No knowledge cut: dbt was started by Dagster without the known_before or as_of_date var or CMI_DBT_KNOWN_BEFORE in its environment") }}
        {%- endif -%}
    {%- endif -%}
    {%- if value is none or value | string | trim == '' -%}
        cast({{ as_of_date() }} + interval {{ knowledge_days_after_business_date() }} day as timestamp)
    {%- else -%}
        {%- set text = value | string | trim -%}
        {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}', text) -%}
            {{ exceptions.raise_compiler_error("var known_before must be YYYY-MM-DD HH:MM:SS, got '" ~ text ~ "'") }}
        {%- endif -%}
        timestamp '{{ text | replace("T", " ") }}'
    {%- endif -%}
{%- endmacro %}

{#-
    The first business date whose night sees a delivery received at `received_at` (the ledger's naive UTC
    timestamp): known_before's rule turned round, the night of D seeing what arrived before midnight at the end of
    D + 1. A row dated later than that (a forecast issued the next day) is known from its own date, so pass it as
    `not_before`. No arrival time (a ledger row from before it kept one) is known from `not_before`.
-#}
{% macro known_on(received_at, not_before) -%}
    greatest(
        cast({{ received_at }} - interval {{ knowledge_days_after_business_date() }} day as date) + 1, {{ not_before }}
    )
{%- endmacro %}
