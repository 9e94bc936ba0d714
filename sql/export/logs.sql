-- name: export/logs
-- purpose: The logs of the exported nodes as binary COPY rows in the column order of the archive's db_dblog.
-- params: everything, ids
-- returns: id int4, uuid, time, loggername, levelname (text), dbnode_id int4, message, metadata (text)
COPY (
    SELECT l.id, l.uuid::text, to_char(l.time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
           l.loggername::text, l.levelname::text, l.dbnode_id, l.message, coalesce(l.metadata::text, 'null')
    FROM db_dblog AS l
    WHERE (%(everything)s OR l.dbnode_id = ANY(%(ids)s::integer[]))
    ORDER BY l.id
) TO STDOUT (FORMAT BINARY);
