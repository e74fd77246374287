{#-
    The rows of a partner feed staging model that count: those of files the ledger has `loaded`, one per key,
    the latest delivery winning. A corrected resend (received later) supersedes what an earlier file said for the
    same key; within one file the last line wins. Rows of quarantined, duplicate or superseded files never appear.

    `feed_rows` is the model's CTE of renamed and cast rows (with `source_file_id` and `source_line`), `feed_files`
    its import of stg_partner_feeds__feed_files, `key_columns` the columns one reported figure is keyed by. Returns
    a select of every column of `feed_rows` plus the winning file's `received_at`.
-#}
{% macro latest_loaded_delivery(feed_rows, feed_files, key_columns) -%}
    select
        {{ feed_rows }}.*,
        {{ feed_files }}.received_at

    from {{ feed_rows }}
    inner join {{ feed_files }}
        on {{ feed_rows }}.source_file_id = {{ feed_files }}.source_file_id
        and {{ feed_files }}.status = 'loaded'
    qualify row_number() over (
        partition by {% for column in key_columns %}{{ feed_rows }}.{{ column }}{{ ", " if not loop.last }}{% endfor %}
        order by
            {{ feed_files }}.received_at desc nulls last,
            {{ feed_rows }}.source_file_id desc,
            {{ feed_rows }}.source_line desc nulls last
    ) = 1
{%- endmacro %}
