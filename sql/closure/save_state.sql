-- name: closure/save_state
-- purpose: Record the closure's bookkeeping after a rebuild, a fold or a deletion.
-- params: watermark, link_count, exact, row_count, link_types
-- returns: -
INSERT INTO {state} (key, watermark, link_count, exact, row_count, link_types, refreshed_at)
VALUES ('closure', %(watermark)s, %(link_count)s, %(exact)s, %(row_count)s, %(link_types)s::text[], now())
ON CONFLICT (key) DO UPDATE SET watermark = excluded.watermark, link_count = excluded.link_count,
    exact = excluded.exact, row_count = excluded.row_count, link_types = excluded.link_types,
    refreshed_at = excluded.refreshed_at;
