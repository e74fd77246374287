{#-
    How many units one of `uom` holds, for a feed row's quantities: 1 for units (each, piece, and a row that names
    no unit), `case_pack` for cases, null for a unit that cannot be turned into units (a weight, a pallet, or a
    case whose product has no case pack); such rows are listed in int_feed_rows_unresolved, never loaded in the
    wrong unit.

    `uom` is lower-cased as staging leaves it; `file_format` says whose code list it comes from: X12's unit codes
    (355: EA each, UN unit, PC piece, CA case, CS case) or UN/ECE Recommendation 20 for EDIFACT (EA, PCE, H87,
    C62, NAR a count of articles; CS case; there CA is a can, which is not a case). Column files may also write
    the words.
-#}
{% macro units_per_uom(uom, file_format, case_pack) -%}
    case
        when {{ uom }} is null
            or {{ uom }} in ('', 'ea', 'each', 'un', 'unit', 'units', 'pc', 'pce', 'pcs', 'piece', 'pieces', 'h87', 'c62', 'nar')
            then 1
        when {{ uom }} in ('cs', 'case', 'cases')
            or ({{ uom }} = 'ca' and coalesce({{ file_format }}, '') <> 'edifact')
            then case when {{ case_pack }} > 0 then {{ case_pack }} end
    end
{%- endmacro %}

{#- Whether `uom` names cases (so a missing case pack, not an unknown unit, is why it cannot be converted). -#}
{% macro is_case_uom(uom, file_format) -%}
    ({{ uom }} in ('cs', 'case', 'cases') or ({{ uom }} = 'ca' and coalesce({{ file_format }}, '') <> 'edifact'))
{%- endmacro %}
