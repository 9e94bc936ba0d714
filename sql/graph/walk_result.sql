-- name: graph/walk_result
-- purpose: The nodes the level loop reached, with their minimal depth.
-- params: -
-- returns: id, depth
SELECT id, depth FROM fastdos_walk;
