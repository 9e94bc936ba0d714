-- name: maintenance/relation_count
-- purpose: Count the relations (tables, views, sequences) outside the system schemas, to tell an empty database before a restore.
-- params: -
-- returns: one bigint
SELECT count(*)
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_)';
