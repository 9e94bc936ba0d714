-- name: ingest/plain_indexes
-- purpose: The indexes of a table that back no constraint (dropped and rebuilt by the load mode), with definitions.
-- params: table
-- returns: rows (schema, index name, pg_get_indexdef)
SELECT n.nspname, c.relname, pg_get_indexdef(c.oid)
FROM pg_index AS x
JOIN pg_class AS c ON c.oid = x.indexrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE x.indrelid = %(table)s::regclass
  AND NOT EXISTS (
    SELECT 1 FROM pg_constraint AS k
    WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid AND k.contype IN ('p', 'u', 'x')
  )
ORDER BY c.relname;
