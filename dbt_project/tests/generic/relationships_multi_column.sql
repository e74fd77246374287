{#-
    Every combination of `columns` in the model exists in `to` (same column names there), e.g. a fact's
    (partner_id, location_id) in dim_location. Rows with a null in any column are not checked.
-#}
{% test relationships_multi_column(model, to, columns) %}

with

child as (

    select distinct {{ columns | join(', ') }}
    from {{ model }}
    where true
    {%- for column in columns %}
      and {{ column }} is not null
    {%- endfor %}

),

parent as (

    select distinct {{ columns | join(', ') }}
    from {{ to }}

),

orphans as (

    select child.*
    from child
    anti join parent using ({{ columns | join(', ') }})

)

select * from orphans

{% endtest %}
