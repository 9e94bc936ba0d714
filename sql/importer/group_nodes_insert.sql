-- name: importer/group_nodes_insert
-- purpose: Add the archive memberships of the groups this import creates (existing groups are left alone).
-- params: -
-- returns: row count (memberships added)
INSERT INTO db_dbgroup_dbnodes (dbgroup_id, dbnode_id)
SELECT g.id, m.id
FROM fastdos_import_group_nodes AS s
JOIN fastdos_import_groups AS g ON g.archive_id = s.dbgroup_id AND g.is_new
JOIN fastdos_import_nodes AS m ON m.archive_id = s.dbnode_id
ORDER BY g.id, m.archive_id
ON CONFLICT (dbgroup_id, dbnode_id) DO NOTHING;
