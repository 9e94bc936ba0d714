-- name: ingest/foreign_keys
-- purpose: The foreign keys of a table (dropped and re-added, i.e. re-validated, by the load mode), with definitions.
-- params: table
-- returns: rows (constraint name, pg_get_constraintdef)
SELECT conname, pg_get_constraintdef(oid)
FROM pg_constraint
WHERE conrelid = %(table)s::regclass AND contype = 'f'
ORDER BY conname;
