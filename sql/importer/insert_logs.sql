-- name: importer/insert_logs
-- purpose: Insert the staged archive logs whose uuid the target lacks, node ids remapped.
-- params: -
-- returns: row count (logs added)
INSERT INTO db_dblog (uuid, time, loggername, levelname, dbnode_id, message, metadata)
SELECT s.uuid, s.time, s.loggername, s.levelname, m.id, s.message, s.metadata
FROM fastdos_import_logs AS s
JOIN fastdos_import_nodes AS m ON m.archive_id = s.dbnode_id
WHERE NOT EXISTS (SELECT 1 FROM db_dblog AS l WHERE l.uuid = s.uuid)
ORDER BY s.archive_id;
