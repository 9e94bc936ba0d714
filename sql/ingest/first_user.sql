-- name: ingest/first_user
-- purpose: The id of the user with the given email, if any (demo and benchmark generators).
-- params: email
-- returns: id or no row
SELECT id FROM db_dbuser WHERE email = %(email)s;
