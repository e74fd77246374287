{#-
    The factor that turns a feed row's quantities into the product's own unit: the case pack for a row sent in
    cases, null for cases of a product without a case pack (such rows are listed in int_feed_rows_unresolved,
    never loaded in the wrong unit), and 1 for any other unit, which is kept as sent (each, piece, or the
    product's own measure, such as feet of cable).

    `uom` is lower-cased as staging leaves it; `file_format` says whose code list it comes from: X12's unit codes
    (355: CA case) or UN/ECE Recommendation 20 for EDIFACT (CS case; there CA is a can, not a case). Column
    files may also write the word.
-#}
{% macro units_per_uom(uom, file_format, case_pack) -%}
    case
        when {{ is_case_uom(uom, file_format) }}
            then case when {{ case_pack }} > 0 then {{ case_pack }} end
        else 1
    end
{%- endmacro %}

{#- Whether `uom` names cases, which the case pack turns into units. -#}
{% macro is_case_uom(uom, file_format) -%}
    coalesce(
        {{ uom }} in ('cs', 'case', 'cases') or ({{ uom }} = 'ca' and coalesce({{ file_format }}, '') <> 'edifact'),
        false
    )
{%- endmacro %}
