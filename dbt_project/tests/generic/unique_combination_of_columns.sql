{#- A composite key: no two rows share the same values in all `combination_of_columns` (nulls compare equal). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

duplicated_keys as (

    select
        {{ combination_of_columns | join(', ') }},
        count(*) as row_count

    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1

)

select * from duplicated_keys

{% endtest %}
