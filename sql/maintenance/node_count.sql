-- name: maintenance/node_count
-- purpose: Number of nodes, for the restore report.
-- params: -
-- returns: one bigint
SELECT count(*) FROM db_dbnode;
