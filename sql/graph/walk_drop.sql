-- name: graph/walk_drop
-- purpose: Drop the level loop's tables when the walk ran inside a caller's transaction (ON COMMIT DROP would keep them, and the next walk's CREATE would fail, until the caller commits).
-- params: -
-- returns: -
-- kind: script
DROP TABLE fastdos_walk;
DROP TABLE fastdos_walk_args;
