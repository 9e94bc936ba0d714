-- name: graph/bulk_table_rows
-- purpose: The planner's row estimates of db_dbnode and db_dblink (pg_class.reltuples, no scan; -1 when never analysed), which the bulk deletion weighs the deleted set against, and whether this role owns db_dbnode (re-adding a foreign key to it needs that).
-- params: -
-- returns: node reltuples, link reltuples, owned
SELECT n.reltuples::bigint, l.reltuples::bigint, pg_has_role(n.relowner, 'USAGE')
FROM pg_class AS n, pg_class AS l
WHERE n.oid = 'db_dbnode'::regclass AND l.oid = 'db_dblink'::regclass;
