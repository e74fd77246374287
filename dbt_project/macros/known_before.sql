{#-
    The first instant (UTC timestamp, as the ledger's `received_at`) whose partner deliveries this run does not see:
    a night for a past business date sees only the files that had arrived by then, so a backfill judges and plans
    on what the night itself would have had. The nightly passes it in the CMI_DBT_KNOWN_BEFORE environment
    variable (orchestration.runtime.partitions.known_before), read only when dbt runs, as `as_of_date()` reads the
    date; a `known_before` var wins over it. Without either, the same rule: midnight at the end of the day after the
    business date.
-#}
{% macro known_before() -%}
    {%- set value = var('known_before', none) -%}
    {%- if (value is none or value | string | trim == '') and execute -%}
        {%- set value = env_var('CMI_DBT_KNOWN_BEFORE', '') -%}
    {%- endif -%}
    {%- if value is none or value | string | trim == '' -%}
        cast({{ as_of_date() }} + interval 2 day as timestamp)
    {%- else -%}
        {%- set text = value | string | trim -%}
        {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}', text) -%}
            {{ exceptions.raise_compiler_error("var known_before must be YYYY-MM-DD HH:MM:SS, got '" ~ text ~ "'") }}
        {%- endif -%}
        timestamp '{{ text | replace("T", " ") }}'
    {%- endif -%}
{%- endmacro %}
