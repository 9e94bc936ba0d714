-- name: importer/links_unknown_types
-- purpose: Link types in the archive that are not aiida link types.
-- params: types
-- returns: one row per unknown type
SELECT DISTINCT type FROM fastdos_import_links WHERE type <> ALL(%(types)s::text[]);
