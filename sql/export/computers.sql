-- name: export/computers
-- purpose: The exported computers as binary COPY rows in the column order of the archive's db_dbcomputer (JSON as text).
-- params: ids
-- returns: id int4, uuid, label, hostname, description, scheduler_type, transport_type, metadata (text)
COPY (
    SELECT c.id, c.uuid::text, c.label::text, c.hostname::text, c.description, c.scheduler_type::text,
           c.transport_type::text, coalesce(c.metadata::text, 'null')
    FROM db_dbcomputer AS c
    WHERE c.id = ANY(%(ids)s::integer[])
    ORDER BY c.id
) TO STDOUT (FORMAT BINARY);
