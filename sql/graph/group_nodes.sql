-- name: graph/group_nodes
-- purpose: Distinct ids of the nodes that are members of the given groups.
-- params: group_ids
-- returns: dbnode_id
SELECT DISTINCT dbnode_id FROM db_dbgroup_dbnodes WHERE dbgroup_id = ANY(%(group_ids)s::integer[]);
