{#-
    The rows of a partner feed staging model that count: those of files the ledger has `loaded` and received
    before the run's knowledge cut (macros/known_before.sql), one per key, the latest delivery winning. A
    corrected resend (received later) supersedes what an earlier file said for the same key; within one file the
    last line wins. Rows of quarantined and duplicate files never appear. A `superseded` file counts like a loaded
    one: every key it reports was re-sent by a later file, which wins that key whenever it is in view; when the
    later file came after the cut (a past night replayed), the superseded file is what the night knew.

    `feed_rows` is the model's CTE of renamed and cast rows (with `source_file_id` and `source_line`), `feed_files`
    its import of stg_partner_feeds__feed_files, `key_columns` the columns one reported figure is keyed by. Returns
    a select of every column of `feed_rows` plus the winning file's `received_at`, `loaded_at` and `file_format`
    (whose code lists its units of measure follow).
-#}
{% macro latest_loaded_delivery(feed_rows, feed_files, key_columns) -%}
    select
        {{ feed_rows }}.*,
        {{ feed_files }}.received_at,
        {{ feed_files }}.loaded_at,
        {{ feed_files }}.file_format

    from {{ feed_rows }}
    inner join {{ feed_files }}
        on {{ feed_rows }}.source_file_id = {{ feed_files }}.source_file_id
        and {{ known_delivery(feed_files) }}
    qualify row_number() over (
        partition by {% for column in key_columns %}{{ feed_rows }}.{{ column }}{{ ", " if not loop.last }}{% endfor %}
        order by
            {{ feed_files }}.received_at desc nulls last,
            {{ feed_rows }}.source_file_id desc,
            {{ feed_rows }}.source_line desc nulls last
    ) = 1
{%- endmacro %}


{#-
    A condition on the feed ledger (`feed_files`, stg_partner_feeds__feed_files or its alias): the file's rows count
    tonight, as the ledger loaded it (`loaded`, or `superseded` by a later resend) and received before the run's
    knowledge cut (macros/known_before.sql). Quarantined and duplicate files never count.
-#}
{% macro known_delivery(feed_files) -%}
    {{ feed_files }}.status in ('loaded', 'superseded')
    and coalesce({{ feed_files }}.received_at < {{ known_before() }}, true)
{%- endmacro %}
