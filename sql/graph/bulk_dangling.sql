-- name: graph/bulk_dangling
-- purpose: The set-wise check of the replica strategy: up to 5 rows of one referencing table that still point at a deleted node (none, unless a session without fastdos' rules wrote them concurrently).
-- params: -
-- returns: rows (row id, node id)
SELECT x.id, x.{column} FROM {table} AS x JOIN fastdos_delete_ids AS d ON x.{column} = d.id LIMIT 5;
