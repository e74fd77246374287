{#-
    No null in any of `column_names`: dbt's not_null for several columns of one model in one test and one scan, so
    a model pays dbt's per-test cost once instead of once per column (and a view's chain runs once, not per column).
    It fails with one row per column holding nulls: the column's name and how many rows are null there.
-#}
{% test not_null_columns(model, column_names) %}

{%- if not column_names %}
    {{ exceptions.raise_compiler_error("not_null_columns on " ~ model ~ " needs at least one column in column_names") }}
{%- endif %}

with

null_counts as (

    select
        {%- for column in column_names %}
        count(case when {{ column }} is null then 1 end) as null_rows_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}

    from {{ model }}

),

columns_with_nulls as (

    {%- for column in column_names %}
    select '{{ column }}' as column_name, null_rows_{{ loop.index }} as null_rows
    from null_counts
    where null_rows_{{ loop.index }} > 0
    {{ 'union all' if not loop.last }}
    {%- endfor %}

)

select * from columns_with_nulls

{% endtest %}
