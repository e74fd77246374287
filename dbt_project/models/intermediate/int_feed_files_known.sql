{#-
    The feed ledger as the night sees it: a night for a past business date sees only the deliveries that had
    arrived by its knowledge cut (macros/known_before.sql, the `known_before` var the nightly passes), so checks
    and plans of a replayed night judge what the night itself would have had. The same cut the partner feed
    staging models apply; the Python quality checks select the night's files from here instead of repeating it.
-#}

with

deliveries as (

    select * from {{ ref('int_feed_deliveries') }}

),

final as (

    select

        deliveries.*,

        ---------- the night and its knowledge cut
        {{ as_of_date() }} as as_of_date,
        {{ known_before() }} as known_before

    from deliveries
    -- A ledger row without a receipt time (older ledgers) is always known, as in the staging models.
    where coalesce(deliveries.received_at < {{ known_before() }}, true)

)

select * from final
