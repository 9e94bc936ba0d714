-- name: graph/delete_links_by_output
-- purpose: Remove links whose output is one of the given nodes (explicitly, not left to the ON DELETE CASCADE, to count them for the closure state).
-- params: ids, watermark
-- returns: below_watermark, total
WITH gone AS (
    DELETE FROM db_dblink WHERE output_id = ANY(%(ids)s::integer[]) RETURNING id
)
SELECT count(*) FILTER (WHERE id <= %(watermark)s), count(*) FROM gone;
