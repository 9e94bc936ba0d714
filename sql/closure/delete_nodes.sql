-- name: closure/delete_nodes
-- purpose: Remove the closure rows of deleted nodes (as descendants; with a descendant-closed deletion set that covers every row they appear in).
-- params: ids
-- returns: affected row count
DELETE FROM {closure} WHERE {child} = ANY(%(ids)s::integer[]) OR {parent} = ANY(%(ids)s::integer[]);
