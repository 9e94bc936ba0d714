-- name: container_keys/create
-- purpose: Temp table receiving every object key of the repository container (COPY), dropped at commit.
-- params: -
-- returns: nothing
CREATE TEMP TABLE fastdos_container_keys (key text NOT NULL) ON COMMIT DROP;
