-- name: query/list_indexes
-- purpose: The expression indexes fastdos created (name prefix fastdos_ix_), with definition, validity, size and scan count (audit unused indexes, aiida-core#2762).
-- params: -
-- returns: name, table, definition, valid, size_bytes, scans
SELECT c.relname, t.relname, pg_get_indexdef(c.oid), i.indisvalid, pg_relation_size(c.oid),
       coalesce(s.idx_scan, 0)
FROM pg_index AS i
JOIN pg_class AS c ON c.oid = i.indexrelid
JOIN pg_class AS t ON t.oid = i.indrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_indexes AS s ON s.indexrelid = c.oid
WHERE n.nspname = current_schema() AND c.relname LIKE 'fastdos\_ix\_%'
ORDER BY c.relname;
