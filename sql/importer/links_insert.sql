-- name: importer/links_insert
-- purpose: Insert the collected new links, in aiida's order (by link type in enum order, then archive order).
-- params: types
-- returns: row count (links added)
INSERT INTO db_dblink (input_id, output_id, label, type)
SELECT input_id, output_id, label, type
FROM fastdos_import_new_links
ORDER BY array_position(%(types)s::text[], type), archive_id;
