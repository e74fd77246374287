{#-
    The newest `column_name` per group (e.g. per partner) is at most `n_days` before the business date.
    A group whose feed stopped shows up with its last date and its age in days.
-#}
{% test at_most_n_days_stale(model, column_name, n_days, group_by_columns=[]) %}

with

latest as (

    select
        {%- for group_column in group_by_columns %}
        {{ group_column }},
        {%- endfor %}
        max(cast({{ column_name }} as date)) as latest_date

    from {{ model }}
    {%- if group_by_columns %}
    group by {{ group_by_columns | join(', ') }}
    {%- endif %}

),

stale as (

    select
        *,
        date_diff('day', latest_date, {{ as_of_date() }}) as age_days

    from latest
    where latest_date is null
       or date_diff('day', latest_date, {{ as_of_date() }}) > {{ n_days }}

)

select * from stale

{% endtest %}
