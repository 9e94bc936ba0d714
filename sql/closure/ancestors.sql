-- name: closure/ancestors
-- purpose: Ancestors of the start set with their minimal depth, read from the closure table.
-- params: ids, max_depth
-- returns: id, depth
SELECT {parent}, min(depth) FROM {closure}
WHERE {child} = ANY(%(ids)s::integer[]) AND depth <= coalesce(%(max_depth)s::integer, depth)
GROUP BY {parent};
