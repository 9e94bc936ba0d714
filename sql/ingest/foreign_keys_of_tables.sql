-- name: ingest/foreign_keys_of_tables
-- purpose: The foreign keys of several tables in one catalog query (the import's load mode), with definitions.
-- params: tables
-- returns: rows (table as given, constraint name, pg_get_constraintdef)
SELECT t.name, c.conname, pg_get_constraintdef(c.oid)
FROM unnest(%(tables)s::text[]) AS t(name)
JOIN pg_constraint AS c ON c.conrelid = t.name::regclass AND c.contype = 'f'
ORDER BY t.name, c.conname;
