-- name: query/group_add_nodes
-- purpose: Add nodes to a group set-wise; nodes already in the group are skipped.
-- params: group_id, ids
-- returns: inserted row count
INSERT INTO db_dbgroup_dbnodes (dbgroup_id, dbnode_id)
SELECT %(group_id)s::integer, n FROM unnest(%(ids)s::integer[]) AS n
ON CONFLICT (dbgroup_id, dbnode_id) DO NOTHING;
