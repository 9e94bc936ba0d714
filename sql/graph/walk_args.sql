-- name: graph/walk_args
-- purpose: Hand the start set, link types and depth bound to the level loop (graph/walk_levels).
-- params: ids, link_types, max_depth
-- returns: -
INSERT INTO fastdos_walk_args (ids, link_types, max_depth)
VALUES (%(ids)s::integer[], %(link_types)s::text[], %(max_depth)s::integer);
