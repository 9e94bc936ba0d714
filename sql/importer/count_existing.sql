-- name: importer/count_existing
-- purpose: How many staged rows (logs or comments) already exist in the target by uuid.
-- params: -
-- returns: one count
SELECT count(*) FROM {staging} AS s WHERE EXISTS (SELECT 1 FROM {table} AS t WHERE t.uuid = s.uuid);
