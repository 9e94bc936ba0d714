-- name: export/user_ids
-- purpose: The users of an export: the start users and every user a node, group, comment (when exported) or authinfo (when exported) refers to.
-- params: user_ids, ids, group_ids, computer_ids, comments, authinfos
-- returns: id (ascending)
SELECT u.id FROM db_dbuser AS u WHERE u.id = ANY(%(user_ids)s::integer[])
UNION
SELECT n.user_id FROM db_dbnode AS n WHERE n.id = ANY(%(ids)s::integer[])
UNION
SELECT g.user_id FROM db_dbgroup AS g WHERE g.id = ANY(%(group_ids)s::integer[])
UNION
SELECT c.user_id FROM db_dbcomment AS c WHERE %(comments)s AND c.dbnode_id = ANY(%(ids)s::integer[])
UNION
SELECT a.aiidauser_id FROM db_dbauthinfo AS a WHERE %(authinfos)s AND a.dbcomputer_id = ANY(%(computer_ids)s::integer[])
ORDER BY 1;
