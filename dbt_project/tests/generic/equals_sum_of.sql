{#-
    On every row, `column_name` equals the sum of `columns` (e.g. a file's quantities reported = loaded + rejected
    + unused: nothing lost without a word). Rows where any of them is null are not checked.
-#}
{% test equals_sum_of(model, column_name, columns) %}

with

unbalanced as (

    select *
    from {{ model }}
    where {{ column_name }} is not null
      {%- for column in columns %}
      and {{ column }} is not null
      {%- endfor %}
      and {{ column_name }} <> {% for column in columns %}{{ column }}{{ " + " if not loop.last }}{% endfor %}

)

select * from unbalanced

{% endtest %}
