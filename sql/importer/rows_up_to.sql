-- name: importer/rows_up_to
-- purpose: How many rows a table has, counting at most `limit` (decides the load mode at a cost bounded by the archive).
-- params: limit
-- returns: one count, at most limit
SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT %(limit)s) AS t;
