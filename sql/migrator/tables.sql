-- name: migrator/tables
-- purpose: Every table of the current schema with the tables it references by foreign key (to delete rows in dependency order).
-- params: -
-- returns: table_name, referenced (text[] of table names, possibly empty)
SELECT c.relname AS table_name,
       coalesce(array_agg(DISTINCT r.relname) FILTER (WHERE r.relname IS NOT NULL AND r.oid <> c.oid), '{}') AS referenced
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_constraint AS k ON k.conrelid = c.oid AND k.contype = 'f'
LEFT JOIN pg_catalog.pg_class AS r ON r.oid = k.confrelid
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
GROUP BY c.relname
ORDER BY c.relname;
