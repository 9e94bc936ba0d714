-- name: export/find_nodes
-- purpose: The nodes named by pk or uuid text (to report the ones that do not exist).
-- params: pks, texts
-- returns: id, uuid
SELECT n.id, n.uuid::text
FROM db_dbnode AS n
WHERE n.id = ANY(%(pks)s::integer[]) OR n.uuid::text = ANY(%(texts)s::text[]);
