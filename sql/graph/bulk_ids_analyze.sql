-- name: graph/bulk_ids_analyze
-- purpose: Statistics for fastdos_delete_ids, so that the joins below pick merge/index joins by its real size.
-- params: -
-- returns: nothing
ANALYZE fastdos_delete_ids;
