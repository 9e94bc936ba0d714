-- name: replicas/system_identifier
-- purpose: The cluster's system identifier (set by initdb, kept by pg_basebackup): a standby of the primary has the primary's.
-- params: -
-- returns: one bigint
SELECT system_identifier FROM pg_catalog.pg_control_system();
