-- name: migrator/delete_rows
-- purpose: Delete every row of one table (DELETE, not TRUNCATE, so sequences keep counting, as aiida-core's reset does).
-- params: -
-- returns: affected row count
DELETE FROM {table};
