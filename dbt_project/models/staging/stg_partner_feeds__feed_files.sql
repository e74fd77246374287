with

source as (

    select * from {{ source('raw', 'feed_files') }}

),

renamed as (

    select

        ---------- ids
        cast(source_file_id as varchar) as source_file_id,
        cast(trim(partner_id) as varchar) as partner_id,
        cast(control_number as varchar) as control_number,

        ---------- file
        cast(path as varchar) as file_path,
        lower(trim(format)) as file_format,
        lower(trim(record_type)) as record_type,

        ---------- outcome
        lower(trim(status)) as status,
        cast(reason as varchar) as status_reason,
        cast(rows_parsed as integer) as rows_parsed,
        cast(rows_rejected as integer) as rows_rejected,

        ---------- where the quantity elements of an EDI file went (null for column files)
        cast(quantities_reported as integer) as quantities_reported,
        cast(quantities_loaded as integer) as quantities_loaded,
        cast(quantities_rejected as integer) as quantities_rejected,
        cast(quantities_unused as integer) as quantities_unused,
        cast(unused_detail as varchar) as unused_detail,

        ---------- timestamps
        cast(received_at as timestamp) as received_at,
        cast(loaded_at as timestamp) as loaded_at

    from source

),

final as (

    select
        *,
        count(*) over (partition by source_file_id) as delivery_count

    from renamed
    -- The same content delivered twice shares its hash: keep the delivery that loaded (`superseded` once a later
    -- resend re-sent all its keys, and still counting), else the latest one. A copy that came after it never hides
    -- a file whose rows count.
    qualify row_number() over (
        partition by source_file_id
        order by status in ('loaded', 'superseded') desc, received_at desc nulls last, loaded_at desc nulls last
    ) = 1

)

select * from final
