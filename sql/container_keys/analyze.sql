-- name: container_keys/analyze
-- purpose: Give the planner the size of the container-key table (temp tables are never auto-analyzed), so that it hashes the smaller side.
-- params: -
-- returns: nothing
ANALYZE fastdos_container_keys;
