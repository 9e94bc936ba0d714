-- name: graph/walk_copy
-- purpose: Hand the nodes the client's levels reached (with their depth) to the level loop's visited table, when the walk turns narrow and the loop takes over.
-- params: -
-- returns: nothing
COPY fastdos_walk (id, depth) FROM STDIN;
