-- name: replicas/create_role
-- purpose: Create the role fastdos' standbys stream with: replication only, no superuser, no password (pg_hba.conf admits it on the primary's local socket only).
-- params: -
-- returns: nothing
CREATE ROLE {role} WITH LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE;
