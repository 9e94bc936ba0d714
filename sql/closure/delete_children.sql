-- name: closure/delete_children
-- purpose: Drop the closure rows of staged nodes (as descendants) before their ancestry is recomputed.
-- params: -
-- returns: affected row count
DELETE FROM {closure} AS c USING fastdos_closure_affected AS a WHERE c.{child} = a.id;
