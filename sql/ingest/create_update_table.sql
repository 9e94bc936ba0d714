-- name: ingest/create_update_table
-- purpose: Empty temporary table with the given columns of a table (types only, no NOT NULL), for bulk_update.
-- params: -
-- returns: nothing
CREATE TEMPORARY TABLE {temp} ON COMMIT DROP AS SELECT {columns} FROM {table} WITH NO DATA;
