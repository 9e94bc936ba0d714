-- name: graph/bulk_table_rows
-- purpose: The planner's row estimate of db_dbnode (pg_class.reltuples, no scan; -1 when never analysed), which the bulk deletion weighs the deleted set against, and whether this role owns the table (re-adding a foreign key to it needs that).
-- params: -
-- returns: reltuples, owned
SELECT reltuples::bigint, pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = 'db_dbnode'::regclass;
