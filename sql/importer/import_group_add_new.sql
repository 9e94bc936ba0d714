-- name: importer/import_group_add_new
-- purpose: Put every node of the archive into the import group this import created (it has no members yet).
-- params: group_id
-- returns: row count (memberships added)
-- A plain INSERT: the node map holds each target node once, and nobody else can see the new group, so no pair
-- can exist: ON CONFLICT's speculative insertion cost the server half as much again a row (bench/notes/ingest.md).
INSERT INTO db_dbgroup_dbnodes (dbgroup_id, dbnode_id)
SELECT %(group_id)s, m.id
FROM fastdos_import_nodes AS m
ORDER BY m.archive_id;
