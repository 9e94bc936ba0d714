-- name: importer/create_temp_tables
-- purpose: The archive import's working tables: archive id -> new id maps and staged archive rows (archive ids).
-- params: -
-- returns: nothing
-- kind: script
-- Dropped first so that a second import inside one outer transaction starts clean; ON COMMIT DROP in case
-- the importer is interrupted before it drops them itself.
DROP TABLE IF EXISTS fastdos_import_nodes, fastdos_import_extras, fastdos_import_links, fastdos_import_new_links,
    fastdos_import_groups, fastdos_import_group_nodes, fastdos_import_logs, fastdos_import_comments;
CREATE TEMPORARY TABLE fastdos_import_nodes (
    archive_id integer PRIMARY KEY, id integer NOT NULL, uuid uuid NOT NULL, node_type text NOT NULL,
    is_new boolean NOT NULL
) ON COMMIT DROP;
CREATE TEMPORARY TABLE fastdos_import_extras (id integer NOT NULL, extras jsonb NOT NULL) ON COMMIT DROP;
CREATE TEMPORARY TABLE fastdos_import_links (
    archive_id integer NOT NULL, input_id integer NOT NULL, output_id integer NOT NULL, label text NOT NULL,
    type text NOT NULL
) ON COMMIT DROP;
CREATE TEMPORARY TABLE fastdos_import_new_links (
    archive_id integer NOT NULL, input_id integer NOT NULL, output_id integer NOT NULL, label text NOT NULL,
    type text NOT NULL, input_uuid uuid NOT NULL, output_uuid uuid NOT NULL, input_type text NOT NULL,
    output_type text NOT NULL
) ON COMMIT DROP;
CREATE TEMPORARY TABLE fastdos_import_groups (
    archive_id integer PRIMARY KEY, id integer NOT NULL, is_new boolean NOT NULL
) ON COMMIT DROP;
CREATE TEMPORARY TABLE fastdos_import_group_nodes (group_id integer NOT NULL, node_id integer NOT NULL) ON COMMIT DROP;
CREATE TEMPORARY TABLE fastdos_import_logs (
    archive_id integer NOT NULL, uuid uuid NOT NULL, time timestamptz NOT NULL, loggername text NOT NULL,
    levelname text NOT NULL, node_id integer NOT NULL, message text NOT NULL, metadata jsonb NOT NULL
) ON COMMIT DROP;
CREATE TEMPORARY TABLE fastdos_import_comments (
    archive_id integer NOT NULL, uuid uuid NOT NULL, node_id integer NOT NULL, ctime timestamptz NOT NULL,
    mtime timestamptz NOT NULL, user_id integer NOT NULL, content text NOT NULL
) ON COMMIT DROP;
