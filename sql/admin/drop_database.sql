-- name: admin/drop_database
-- purpose: Drop a database if it exists, ending its sessions first (the demo's reset).
-- params: -
-- returns: nothing
DROP DATABASE IF EXISTS {dbname} WITH (FORCE);
