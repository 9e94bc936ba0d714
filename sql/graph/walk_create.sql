-- name: graph/walk_create
-- purpose: The transaction's tables of the level loop: visited nodes with their depth (the primary key is the visited-set probe) and the walk's arguments (a DO block takes no parameters): the frontier to expand and the level its targets get.
-- params: -
-- returns: -
-- kind: script
CREATE TEMPORARY TABLE fastdos_walk (id integer PRIMARY KEY, depth integer NOT NULL) ON COMMIT DROP;
CREATE TEMPORARY TABLE fastdos_walk_args (ids integer[] NOT NULL, link_types text[] NOT NULL, max_depth integer, first_level integer NOT NULL) ON COMMIT DROP;
