-- name: query/group_clear
-- purpose: Remove every node from a group.
-- params: group_id
-- returns: deleted row count
DELETE FROM db_dbgroup_dbnodes WHERE dbgroup_id = %(group_id)s;
