-- name: ingest/missing_ids
-- purpose: Ids of the bulk_update temp table that have no row in the target table.
-- params: -
-- returns: one int4[] (NULL when none is missing)
SELECT array_agg(s.id ORDER BY s.id) FROM {temp} AS s WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE t.id = s.id);
