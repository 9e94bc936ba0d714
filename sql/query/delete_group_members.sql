-- name: query/delete_group_members
-- purpose: Delete the memberships of the given groups (the foreign key from db_dbgroup_dbnodes is NO ACTION, so they must go with the group).
-- params: ids
-- returns: deleted row count
DELETE FROM db_dbgroup_dbnodes WHERE dbgroup_id = ANY(%(ids)s::integer[]);
