-- name: graph/bulk_delete_nodes
-- purpose: Delete the nodes listed in fastdos_delete_ids (a join, no per-row array probe); first, so that its row locks make any concurrent insert of a reference to them wait and then fail its own foreign-key check.
-- params: -
-- returns: affected row count
DELETE FROM db_dbnode AS n USING fastdos_delete_ids AS d WHERE n.id = d.id;
