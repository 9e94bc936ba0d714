-- name: container_keys/drop
-- purpose: Drop the session's container-key table left by an earlier call in the same (outer) transaction.
-- params: -
-- returns: nothing
DROP TABLE IF EXISTS pg_temp.fastdos_container_keys;
