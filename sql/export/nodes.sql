-- name: export/nodes
-- purpose: The exported nodes as binary COPY rows in the column order of the archive's db_dbnode; process nodes lose their 'checkpoints' attribute (aiida-core's strip_checkpoints default), times become naive UTC text.
-- params: everything, ids
-- returns: id int4, uuid, node_type, process_type, label, description, ctime, mtime, attributes, extras, repository_metadata (text), dbcomputer_id int4, user_id int4
COPY (
    SELECT n.id, n.uuid::text, n.node_type::text, n.process_type::text, n.label::text, n.description,
           to_char(n.ctime AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
           to_char(n.mtime AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
           coalesce(CASE WHEN n.node_type LIKE 'process.%%' THEN n.attributes - 'checkpoints'
                         ELSE n.attributes END::text, 'null'),
           coalesce(n.extras::text, 'null'), coalesce(n.repository_metadata::text, 'null'),
           n.dbcomputer_id, n.user_id
    FROM db_dbnode AS n
    WHERE (%(everything)s OR n.id = ANY(%(ids)s::integer[]))
    ORDER BY n.id
) TO STDOUT (FORMAT BINARY);
