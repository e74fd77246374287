with

source as (

    select * from {{ source('raw', 'feed_rejects') }}

),

final as (

    select

        ---------- ids
        source_file_id,
        trim(partner_id) as partner_id,
        lower(trim(record_type)) as record_type,
        cast(source_line as integer) as source_line,

        ---------- why
        reason as reject_reason,
        raw_record

    from source

)

select * from final
