-- name: scaling/btree_levels
-- purpose: The level of the root page (0 = the root is a leaf; depth = level + 1) of every btree index of the public schema, from its metapage (pageinspect's bt_metap).
-- params: -
-- returns: rows (index, level)
SELECT i.relname::text, (bt_metap(i.oid::regclass::text)).level
FROM pg_catalog.pg_index AS x
JOIN pg_catalog.pg_class AS i ON i.oid = x.indexrelid
JOIN pg_catalog.pg_namespace AS n ON n.oid = i.relnamespace
JOIN pg_catalog.pg_am AS a ON a.oid = i.relam
WHERE n.nspname = 'public' AND a.amname = 'btree'
ORDER BY i.relname;
