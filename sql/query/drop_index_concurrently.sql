-- name: query/drop_index_concurrently
-- purpose: Drop an index created by fastdos.query.indexes without blocking writes (outside a transaction).
-- params: -
-- returns: nothing
DROP INDEX CONCURRENTLY IF EXISTS {name};
