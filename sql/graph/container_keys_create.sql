-- name: graph/container_keys_create
-- purpose: The transaction's staging table for the container's object keys (filled by COPY).
-- params: -
-- returns: -
CREATE TEMPORARY TABLE fastdos_container_keys (key text) ON COMMIT DROP;
