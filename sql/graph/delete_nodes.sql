-- name: graph/delete_nodes
-- purpose: Delete the given nodes; their comments and logs go by ON DELETE CASCADE.
-- params: ids
-- returns: affected row count
DELETE FROM db_dbnode WHERE id = ANY(%(ids)s::integer[]);
