-- name: graph/container_keys_analyze
-- purpose: Statistics for the staged keys so the anti-join hashes them.
-- params: -
-- returns: -
ANALYZE fastdos_container_keys;
