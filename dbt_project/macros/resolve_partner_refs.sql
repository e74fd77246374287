{#-
    Resolve the partner's own references of a feed's rows: its item reference (`product_ref`, through the
    cross-reference of items we have) to our `product_id`, and its location code to a location we know.

    `feed_rows` is the model's CTE of rows with `partner_id`, `location_id`, `product_ref` and the lineage columns
    `source_file_id`, `source_line` and `received_at`; filter it to the business date before the call.
    `known_items` and `partner_locations` name the model's imports of int_partner_items_known and
    stg_supplier__partner_locations. Returns a select of every column of `feed_rows` plus `product_id`, its
    `case_pack` for the partner (what a quantity in cases means) and `is_known_location`:

    - by default only rows naming a known item at a known location, and with `latest_per` (the columns besides
      partner, location and product that key one reported figure) one row per product and key: two of a
      partner's references (say its SKU and the UPC) can name one product, and the latest delivery wins;
    - with `keep_unresolved=true` every row, `product_id` null for an unknown item and `is_known_location` false
      for an unknown location, so the rows the resolved models leave out can be listed.
-#}
{% macro resolve_partner_refs(
    feed_rows,
    latest_per=none,
    keep_unresolved=false,
    known_items='known_items',
    partner_locations='partner_locations'
) -%}
    {%- set join = 'left' if keep_unresolved else 'inner' -%}
    select
        {{ feed_rows }}.*,
        {{ known_items }}.product_id,
        {{ known_items }}.case_pack,
        {{ partner_locations }}.location_id is not null as is_known_location

    from {{ feed_rows }}
    {{ join }} join {{ known_items }}
        on {{ feed_rows }}.partner_id = {{ known_items }}.partner_id
        and {{ feed_rows }}.product_ref = {{ known_items }}.partner_item_ref
    {{ join }} join {{ partner_locations }}
        on {{ feed_rows }}.partner_id = {{ partner_locations }}.partner_id
        and {{ feed_rows }}.location_id = {{ partner_locations }}.location_id
    {%- if latest_per is not none %}
    qualify row_number() over (
        partition by
            {{ feed_rows }}.partner_id,
            {{ feed_rows }}.location_id,
            {{ known_items }}.product_id
            {%- for column in latest_per %},
            {{ feed_rows }}.{{ column }}
            {%- endfor %}
        order by
            {{ feed_rows }}.received_at desc nulls last,
            {{ feed_rows }}.source_file_id desc,
            {{ feed_rows }}.source_line desc nulls last
    ) = 1
    {%- endif %}
{%- endmacro %}


{#-
    One hash of the master data resolve_partner_refs reads: each partner item reference with its product and case
    pack (int_partner_items_known) and each known partner location. A table of resolved rows remembers the hash
    it was built with (remember_partner_refs) so an incremental build can tell when rows delivered long ago would
    now resolve differently and must be re-built whole (macros/incremental_window.sql, rebuild_from_date).
-#}
{% macro partner_refs_fingerprint() -%}
    {%- set query -%}
        select md5(
            coalesce((
                select string_agg(
                    concat_ws('|', partner_id, partner_item_ref, product_id, coalesce(cast(case_pack as varchar), '')),
                    chr(10) order by partner_id, partner_item_ref
                )
                from {{ ref('int_partner_items_known') }}
            ), '')
            || '#'
            || coalesce((
                select string_agg(concat_ws('|', partner_id, location_id), chr(10) order by partner_id, location_id)
                from {{ ref('stg_supplier__partner_locations') }}
            ), '')
        ) as fingerprint
    {%- endset -%}
    {{ return(run_query(query).rows[0]['fingerprint']) }}
{%- endmacro %}


{#-
    What a table of resolved rows was built with: the master data's hash, and the `settings` its rows were worked
    out with when it has some (vars whose change must reach every row, not only the rows a night re-builds).
-#}
{% macro built_with(settings='') -%}
    {{ return(partner_refs_fingerprint() ~ ((';' ~ settings) if settings else '')) }}
{%- endmacro %}


{#-
    Post-hook: keep what this build was made with (built_with: the master data's hash and any `settings`), as the
    table's DuckDB comment (a first build or --full-refresh creates the table without one, and the hook writes it
    again).
-#}
{% macro remember_partner_refs(settings='') -%}
    {%- if execute -%}
        comment on table {{ this }} is 'partner_refs_fingerprint={{ built_with(settings) | replace("'", "''") }}'
    {%- endif -%}
{%- endmacro %}


{#- The hash remember_partner_refs kept on this table, or none. -#}
{% macro remembered_partner_refs() -%}
    {%- set query -%}
        select comment
        from duckdb_tables()
        where database_name = '{{ this.database }}'
            and schema_name = '{{ this.schema }}'
            and table_name = '{{ this.identifier }}'
    {%- endset -%}
    {%- set rows = run_query(query).rows -%}
    {%- set comment = (rows[0]['comment'] if rows | length > 0 else none) or '' -%}
    {%- if not comment.startswith('partner_refs_fingerprint=') -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(comment.split('=', 1)[1]) }}
{%- endmacro %}
