{#-
    One row per calendar day from `start_date` to `end_date`, both inclusive, as a set-returning select
    expression: `select series.*, {{ days_between('first_day', as_of_date()) }} as day from series`.
    An end before the start yields no rows.
-#}
{% macro days_between(start_date, end_date) -%}
    cast(unnest(generate_series(cast({{ start_date }} as date), cast({{ end_date }} as date), interval 1 day)) as date)
{%- endmacro %}
