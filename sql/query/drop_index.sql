-- name: query/drop_index
-- purpose: Drop an index created by fastdos.query.indexes.
-- params: -
-- returns: nothing
DROP INDEX IF EXISTS {name};
