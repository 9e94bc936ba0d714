-- name: replicas/role_exists
-- purpose: Whether a role of this name exists (the replication role of fastdos' standbys).
-- params: role
-- returns: one boolean
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %(role)s);
