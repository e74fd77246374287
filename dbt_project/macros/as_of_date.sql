{#-
    The business date of the run as a DuckDB date literal, from the `as_of_date` var (YYYY-MM-DD), else the
    CMI_DBT_AS_OF_DATE environment variable, which is how the nightly passes it. Every model that asks "what is
    today?" calls this, so a night can be replayed for any past date. Without either the warehouse's current date
    is used, but a dbt started by Dagster (dagster-dbt sets DAGSTER_DBT_CLI) stops instead: there a missing date
    means the night's date was not passed on, and today would be planned in its place.

    The environment variable is read only when dbt runs (`execute`), never while it parses: dbt keeps its parse of
    the project from one invocation to the next only while the vars and the environment variables the parse read
    stay the same, and the date changes every night (assets/warehouse.py, `dbt_night_environment`). So this macro
    must not be used where dbt renders at parse time: in config(), alias or schema, a yml `where:`, or an
    {% if %} that decides a model's structure. There it would see no date.
-#}
{% macro as_of_date() -%}
    {%- set value = var('as_of_date', none) -%}
    {%- if (value is none or value | string | trim == '') and execute -%}
        {%- set value = env_var('CMI_DBT_AS_OF_DATE', '') -%}
        {%- if value | trim == '' and env_var('DAGSTER_DBT_CLI', '') == 'true' -%}
            {{ exceptions.raise_compiler_error("No business date: dbt was started by Dagster without the as_of_date var or CMI_DBT_AS_OF_DATE in its environment") }}
        {%- endif -%}
    {%- endif -%}
    {%- if value is none or value | string | trim == '' -%}
        current_date
    {%- else -%}
        {#- YAML turns an unquoted 2025-06-30 into a date; its string form is the same text. -#}
        {%- set text = value | string | trim -%}
        {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', text) -%}
            {{ exceptions.raise_compiler_error("var as_of_date must be YYYY-MM-DD, got '" ~ text ~ "'") }}
        {%- endif -%}
        date '{{ modules.datetime.datetime.strptime(text, '%Y-%m-%d').strftime('%Y-%m-%d') }}'
    {%- endif -%}
{%- endmacro %}
