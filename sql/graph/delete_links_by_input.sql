-- name: graph/delete_links_by_input
-- purpose: Remove links whose input is one of the given nodes (FK input_id is NO ACTION); count those at or below the closure watermark.
-- params: ids, watermark
-- returns: below_watermark, total
WITH gone AS (
    DELETE FROM db_dblink WHERE input_id = ANY(%(ids)s::integer[]) RETURNING id
)
SELECT count(*) FILTER (WHERE id <= %(watermark)s), count(*) FROM gone;
