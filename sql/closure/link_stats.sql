-- name: closure/link_stats
-- purpose: Links at or below the watermark (an index-only count: fewer than recorded means someone else deleted links) and whether links of the closure's types were added above it.
-- params: watermark, link_types
-- returns: count_below, newer_of_types (bool), max_id
SELECT (SELECT count(*) FROM {links} WHERE id <= %(watermark)s),
       EXISTS (SELECT 1 FROM {links} WHERE id > %(watermark)s AND type = ANY(%(link_types)s::text[])),
       (SELECT coalesce(max(id), 0) FROM {links});
