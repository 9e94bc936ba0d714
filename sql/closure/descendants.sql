-- name: closure/descendants
-- purpose: Descendants of the start set with their minimal depth, read from the closure table.
-- params: ids, max_depth
-- returns: id, depth
SELECT {child}, min(depth) FROM {closure}
WHERE {parent} = ANY(%(ids)s::integer[]) AND depth <= coalesce(%(max_depth)s::integer, depth)
GROUP BY {child};
