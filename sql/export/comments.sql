-- name: export/comments
-- purpose: The comments of the exported nodes as binary COPY rows in the column order of the archive's db_dbcomment.
-- params: everything, ids
-- returns: id int4, uuid, dbnode_id int4, ctime, mtime (text), user_id int4, content text
COPY (
    SELECT c.id, c.uuid::text, c.dbnode_id,
           to_char(c.ctime AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
           to_char(c.mtime AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), c.user_id, c.content
    FROM db_dbcomment AS c
    WHERE (%(everything)s OR c.dbnode_id = ANY(%(ids)s::integer[]))
    ORDER BY c.id
) TO STDOUT (FORMAT BINARY);
