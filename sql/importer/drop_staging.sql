-- name: importer/drop_staging
-- purpose: Drop the archive import's working tables (before it starts, and at its end).
-- params: -
-- returns: nothing
DROP TABLE IF EXISTS {tables};
