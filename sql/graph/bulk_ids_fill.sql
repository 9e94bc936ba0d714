-- name: graph/bulk_ids_fill
-- purpose: Fill fastdos_delete_ids with the ids to delete (one array, de-duplicated by the caller) and return how many rows it holds.
-- params: ids
-- returns: affected row count
INSERT INTO fastdos_delete_ids (id) SELECT unnest(%(ids)s::integer[]);
