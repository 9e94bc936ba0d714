-- name: ingest/update_from
-- purpose: Apply the rows of the bulk_update temp table to a table, by id.
-- params: -
-- returns: row count
UPDATE {table} AS t SET {assignments} FROM {temp} AS s WHERE t.id = s.id;
