-- name: importer/staged_unknown_nodes
-- purpose: Staged new logs/comments whose node is not in the archive (first few, for the error message).
-- params: -
-- returns: (archive id, archive node id) per offending row, at most 5
SELECT s.archive_id, s.dbnode_id
FROM {staging} AS s
WHERE NOT EXISTS (SELECT 1 FROM fastdos_import_nodes AS m WHERE m.archive_id = s.dbnode_id)
  AND NOT EXISTS (SELECT 1 FROM {table} AS t WHERE t.uuid = s.uuid)
ORDER BY s.archive_id
LIMIT 5;
