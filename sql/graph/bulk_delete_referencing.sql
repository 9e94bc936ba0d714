-- name: graph/bulk_delete_referencing
-- purpose: Delete the rows of one referencing table whose column points at a node of fastdos_delete_ids (the work an ON DELETE CASCADE or an explicit delete would do, set-wise); counts the rows at or below the closure watermark (links only; 0 elsewhere).
-- params: watermark
-- returns: below_watermark, total
WITH gone AS (
    DELETE FROM {table} AS x USING fastdos_delete_ids AS d WHERE x.{column} = d.id RETURNING x.id
)
SELECT count(*) FILTER (WHERE id <= %(watermark)s), count(*) FROM gone;
