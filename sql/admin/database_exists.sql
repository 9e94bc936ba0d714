-- name: admin/database_exists
-- purpose: Whether a database of this name exists on the server.
-- params: name
-- returns: one boolean
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = %(name)s);
