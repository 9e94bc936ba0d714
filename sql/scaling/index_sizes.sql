-- name: scaling/index_sizes
-- purpose: Size of every index of the public schema's tables, with its table and access method (docs/scaling.md), largest first.
-- params: -
-- returns: rows (table, index, access_method, bytes)
SELECT t.relname::text, i.relname::text, a.amname::text, pg_catalog.pg_relation_size(i.oid)
FROM pg_catalog.pg_index AS x
JOIN pg_catalog.pg_class AS i ON i.oid = x.indexrelid
JOIN pg_catalog.pg_class AS t ON t.oid = x.indrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = t.relnamespace
JOIN pg_catalog.pg_am AS a ON a.oid = i.relam
WHERE n.nspname = 'public'
ORDER BY pg_catalog.pg_relation_size(i.oid) DESC, i.relname;
