-- name: graph/existing_nodes
-- purpose: Which of the given node ids exist (to report and skip the missing ones).
-- params: ids
-- returns: id (one row per existing node)
SELECT id FROM db_dbnode WHERE id = ANY(%(ids)s::integer[]);
