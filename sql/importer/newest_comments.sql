-- name: importer/newest_comments
-- purpose: merge_comments='newest': existing comments older than the archive's take its content; mtime = now.
-- params: now
-- returns: row count (comments updated)
-- aiida sets mtime from the archive, then the content through the ORM, whose onupdate bumps mtime to now.
UPDATE db_dbcomment AS c
SET content = s.content, mtime = %(now)s
FROM fastdos_import_comments AS s
WHERE c.uuid = s.uuid AND c.mtime < s.mtime;
