{#-
    No value below zero; nulls pass (pair with not_null where a value is required).
    Quantities partners report may legitimately dip below zero (corrections, phantom stock): attach
    `config: {severity: warn}` there so the row is reported without blocking the run.
-#}
{% test non_negative(model, column_name) %}

with

negative_values as (

    select *
    from {{ model }}
    where {{ column_name }} < 0

)

select * from negative_values

{% endtest %}
