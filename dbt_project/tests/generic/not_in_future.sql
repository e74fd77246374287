{#- No date after the run's business date (`as_of_date` var): nothing from the future may be used. -#}
{% test not_in_future(model, column_name) %}

with

future_rows as (

    select *
    from {{ model }}
    where cast({{ column_name }} as date) > {{ as_of_date() }}

)

select * from future_rows

{% endtest %}
