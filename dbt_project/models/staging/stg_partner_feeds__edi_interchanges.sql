with

source as (

    select * from {{ source('raw', 'edi_interchanges') }}

),

final as (

    select

        ---------- ids
        cast(source_file_id as varchar) as source_file_id,
        cast(interchange_index as integer) as interchange_index,
        trim(partner_id) as partner_id,

        ---------- envelope
        lower(trim(standard)) as edi_standard,
        cast(control_number as varchar) as control_number,
        trim(sender) as sender_id,
        trim(receiver) as receiver_id,
        cast(version as varchar) as edi_version,
        cast(is_test as boolean) as is_test,

        ---------- outcome
        lower(trim(outcome)) as outcome,
        cast(reason as varchar) as outcome_reason,
        cast(sets as integer) as sets,
        cast(sets_rejected as integer) as sets_rejected,

        ---------- where its quantity elements went (null when the whole file was refused unread)
        cast(quantities_reported as integer) as quantities_reported,
        cast(quantities_loaded as integer) as quantities_loaded,
        cast(quantities_rejected as integer) as quantities_rejected,
        cast(quantities_unused as integer) as quantities_unused

    from source

)

select * from final
