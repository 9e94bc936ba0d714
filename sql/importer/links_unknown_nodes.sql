-- name: importer/links_unknown_nodes
-- purpose: Archive links whose input or output node is not in the archive (first few, for the error message).
-- params: -
-- returns: (archive link id, archive input id, archive output id), at most 5
SELECT s.archive_id, s.input_id, s.output_id
FROM fastdos_import_links AS s
LEFT JOIN fastdos_import_nodes AS i ON i.archive_id = s.input_id
LEFT JOIN fastdos_import_nodes AS o ON o.archive_id = s.output_id
WHERE i.archive_id IS NULL OR o.archive_id IS NULL
ORDER BY s.archive_id
LIMIT 5;
