-- name: query/group_remove_nodes
-- purpose: Remove nodes from a group set-wise (nodes not in the group are ignored).
-- params: group_id, ids
-- returns: deleted row count
DELETE FROM db_dbgroup_dbnodes WHERE dbgroup_id = %(group_id)s AND dbnode_id = ANY(%(ids)s::integer[]);
