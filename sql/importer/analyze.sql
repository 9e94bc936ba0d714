-- name: importer/analyze
-- purpose: Statistics for a filled working table (autovacuum never analyzes temporary tables).
-- params: -
-- returns: nothing
ANALYZE {table};
