-- name: graph/bulk_node_references
-- purpose: Every foreign key into db_dbnode (the rows a deletion must remove first), from the catalog: the bulk deletion removes them set-wise, and with the constraints strategy drops and restores them.
-- params: -
-- returns: rows (table oid, schema, referencing table, column, constraint name, ON DELETE action letter, pg_get_constraintdef, whether validated, whether the referencing table is ours to ALTER)
SELECT c.conrelid::oid::bigint, s.nspname::text, t.relname::text, a.attname::text, c.conname::text, c.confdeltype::text,
       pg_get_constraintdef(c.oid), c.convalidated, pg_has_role(t.relowner, 'USAGE')
FROM pg_constraint AS c
JOIN pg_class AS t ON t.oid = c.conrelid
JOIN pg_namespace AS s ON s.oid = t.relnamespace
JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
WHERE c.contype = 'f' AND c.confrelid = 'db_dbnode'::regclass
ORDER BY 2, 3, 4, 5;
