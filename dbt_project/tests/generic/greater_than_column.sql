{#-
    Every `column_name` lies after `other_column` on the same row (or on it, with `or_equal: true`), e.g. a
    receipt after its shipment. Rows with a null in either column are not checked.
-#}
{% test greater_than_column(model, column_name, other_column, or_equal=false) %}

{%- set operator = '>=' if or_equal else '>' -%}

with

out_of_order as (

    select *
    from {{ model }}
    where {{ column_name }} is not null
      and {{ other_column }} is not null
      and not ({{ column_name }} {{ operator }} {{ other_column }})

)

select * from out_of_order

{% endtest %}
