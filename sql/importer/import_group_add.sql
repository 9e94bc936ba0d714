-- name: importer/import_group_add
-- purpose: Put every node of the archive (new and existing) into the import group, skipping members.
-- params: group_id
-- returns: row count (memberships added)
INSERT INTO db_dbgroup_dbnodes (dbgroup_id, dbnode_id)
SELECT %(group_id)s, m.id
FROM fastdos_import_nodes AS m
ORDER BY m.archive_id
ON CONFLICT (dbgroup_id, dbnode_id) DO NOTHING;
