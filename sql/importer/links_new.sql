-- name: importer/links_new
-- purpose: Collect the archive links to add: ids remapped, (input, output, label) of the same type in the target or twice in the archive skipped.
-- params: -
-- returns: row count (links to add)
INSERT INTO fastdos_import_new_links
    (archive_id, input_id, output_id, label, type, input_uuid, output_uuid, input_type, output_type)
SELECT DISTINCT ON (i.id, o.id, s.label, s.type)
    s.archive_id, i.id, o.id, s.label, s.type, i.uuid, o.uuid, i.node_type, o.node_type
FROM fastdos_import_links AS s
JOIN fastdos_import_nodes AS i ON i.archive_id = s.input_id
JOIN fastdos_import_nodes AS o ON o.archive_id = s.output_id
WHERE NOT EXISTS (
    SELECT 1 FROM db_dblink AS l
    WHERE l.input_id = i.id AND l.output_id = o.id AND l.label = s.label AND l.type = s.type
)
ORDER BY i.id, o.id, s.label, s.type, s.archive_id;
