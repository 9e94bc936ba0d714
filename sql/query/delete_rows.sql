-- name: query/delete_rows
-- purpose: Delete rows of an entity table by id, set-wise (dependent rows follow by the schema's ON DELETE CASCADE).
-- params: ids
-- returns: deleted row count
DELETE FROM {table} WHERE id = ANY(%(ids)s::integer[]);
