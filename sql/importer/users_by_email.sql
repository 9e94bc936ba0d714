-- name: importer/users_by_email
-- purpose: Ids of the users with the given emails (users are matched by email).
-- params: emails
-- returns: (email, id) per existing user
SELECT email, id FROM db_dbuser WHERE email = ANY(%(emails)s::text[]);
