-- name: info/database_size
-- purpose: Size of the current database on disk, in bytes.
-- params: -
-- returns: one bigint
SELECT pg_database_size(current_database());
