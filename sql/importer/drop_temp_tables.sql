-- name: importer/drop_temp_tables
-- purpose: Drop the archive import's working tables at the end of an import.
-- params: -
-- returns: nothing
DROP TABLE IF EXISTS fastdos_import_nodes, fastdos_import_extras, fastdos_import_links, fastdos_import_new_links,
    fastdos_import_groups, fastdos_import_group_nodes, fastdos_import_logs, fastdos_import_comments;
