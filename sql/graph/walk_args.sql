-- name: graph/walk_args
-- purpose: Hand the frontier (the start set, or where the client's levels stopped), link types, depth bound and the frontier's next level to the level loop (graph/walk_levels).
-- params: ids, link_types, max_depth, first_level
-- returns: -
INSERT INTO fastdos_walk_args (ids, link_types, max_depth, first_level)
VALUES (%(ids)s::integer[], %(link_types)s::text[], %(max_depth)s::integer, %(first_level)s::integer);
