-- name: replicas/reload_conf
-- purpose: Make the server re-read pg_hba.conf and its configuration files (after fastdos added its replication entry).
-- params: -
-- returns: one boolean
SELECT pg_catalog.pg_reload_conf();
