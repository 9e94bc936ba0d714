-- name: importer/insert_comments
-- purpose: Insert the staged archive comments whose uuid the target lacks, node ids remapped.
-- params: -
-- returns: row count (comments added)
INSERT INTO db_dbcomment (uuid, dbnode_id, ctime, mtime, user_id, content)
SELECT s.uuid, m.id, s.ctime, s.mtime, s.user_id, s.content
FROM fastdos_import_comments AS s
JOIN fastdos_import_nodes AS m ON m.archive_id = s.dbnode_id
WHERE NOT EXISTS (SELECT 1 FROM db_dbcomment AS c WHERE c.uuid = s.uuid)
ORDER BY s.archive_id;
