-- name: graph/container_keys_copy
-- purpose: COPY the container's object keys into the staging table.
-- params: -
-- returns: -
COPY fastdos_container_keys (key) FROM STDIN;
