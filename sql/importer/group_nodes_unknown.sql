-- name: importer/group_nodes_unknown
-- purpose: Archive memberships of new groups whose node (or group) is not in the archive (first few).
-- params: -
-- returns: (archive group id, archive node id), at most 5
SELECT s.dbgroup_id, s.dbnode_id
FROM fastdos_import_group_nodes AS s
LEFT JOIN fastdos_import_groups AS g ON g.archive_id = s.dbgroup_id
WHERE g.archive_id IS NULL
   OR (g.is_new AND NOT EXISTS (SELECT 1 FROM fastdos_import_nodes AS m WHERE m.archive_id = s.dbnode_id))
ORDER BY s.dbgroup_id, s.dbnode_id
LIMIT 5;
