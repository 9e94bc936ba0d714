-- name: graph/bulk_ids_drop
-- purpose: Drop fastdos_delete_ids when the deletion ran inside a caller's transaction (ON COMMIT DROP would keep it, and the next deletion's CREATE would fail, until the caller commits).
-- params: -
-- returns: nothing
DROP TABLE fastdos_delete_ids;
