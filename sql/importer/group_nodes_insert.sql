-- name: importer/group_nodes_insert
-- purpose: Add the archive memberships of the groups this import creates (existing groups are left alone).
-- params: -
-- returns: row count (memberships added)
-- Groups created by this import have no members yet and nobody else sees them: DISTINCT (an archive listing a
-- membership twice) instead of ON CONFLICT's speculative insertion, half as much again a row (bench/notes/ingest.md).
INSERT INTO db_dbgroup_dbnodes (dbgroup_id, dbnode_id)
SELECT DISTINCT ON (g.id, m.archive_id) g.id, m.id
FROM fastdos_import_group_nodes AS s
JOIN fastdos_import_groups AS g ON g.archive_id = s.dbgroup_id AND g.is_new
JOIN fastdos_import_nodes AS m ON m.archive_id = s.dbnode_id
ORDER BY g.id, m.archive_id;
