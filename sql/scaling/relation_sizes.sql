-- name: scaling/relation_sizes
-- purpose: Heap, index and TOAST sizes and the row estimate of every ordinary table of the public schema (docs/scaling.md), largest first.
-- params: -
-- returns: rows (table, rows, heap_bytes, index_bytes, toast_bytes, total_bytes)
SELECT c.relname::text,
       greatest(c.reltuples, 0)::bigint,
       pg_catalog.pg_relation_size(c.oid),
       pg_catalog.pg_indexes_size(c.oid),
       coalesce(pg_catalog.pg_total_relation_size(c.reltoastrelid), 0),
       pg_catalog.pg_total_relation_size(c.oid)
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r'
ORDER BY pg_catalog.pg_total_relation_size(c.oid) DESC, c.relname;
