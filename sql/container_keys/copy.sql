-- name: container_keys/copy
-- purpose: Stream the container's object keys into the temp table, one key per line.
-- params: -
-- returns: nothing
COPY fastdos_container_keys (key) FROM STDIN;
