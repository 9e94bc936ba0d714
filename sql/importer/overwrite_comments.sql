-- name: importer/overwrite_comments
-- purpose: merge_comments='overwrite': existing comments take the archive's content and mtime (aiida's bulk_update).
-- params: -
-- returns: row count (comments updated)
UPDATE db_dbcomment AS c
SET content = s.content, mtime = s.mtime
FROM fastdos_import_comments AS s
WHERE c.uuid = s.uuid;
