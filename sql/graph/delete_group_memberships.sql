-- name: graph/delete_group_memberships
-- purpose: Remove the group memberships of the given nodes (the FK is NO ACTION, so they must go before the nodes).
-- params: ids
-- returns: affected row count
DELETE FROM db_dbgroup_dbnodes WHERE dbnode_id = ANY(%(ids)s::integer[]);
