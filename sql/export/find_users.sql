-- name: export/find_users
-- purpose: The users named by pk or email (to report the ones that do not exist).
-- params: pks, texts
-- returns: id, email
SELECT u.id, u.email
FROM db_dbuser AS u
WHERE u.id = ANY(%(pks)s::integer[]) OR u.email = ANY(%(texts)s::text[]);
