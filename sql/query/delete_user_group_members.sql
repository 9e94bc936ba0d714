-- name: query/delete_user_group_members
-- purpose: Delete the memberships of every group owned by the given users (their groups go by CASCADE, the memberships would block the commit).
-- params: ids
-- returns: deleted row count
DELETE FROM db_dbgroup_dbnodes AS m USING db_dbgroup AS g
WHERE m.dbgroup_id = g.id AND g.user_id = ANY(%(ids)s::integer[]);
