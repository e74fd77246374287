{#-
    The business date of the run as a DuckDB date literal, from the `as_of_date` var (YYYY-MM-DD).
    Every model that asks "what is today?" calls this, so a night can be replayed for any past date.
    Without the var the warehouse's current date is used.
-#}
{% macro as_of_date() -%}
    {%- set value = var('as_of_date', none) -%}
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
