-- name: export/sqlite/insert_nodes
-- purpose: SQLite, not PostgreSQL: one row of the archive's db_dbnode, positional parameters in the column order of export/nodes (executemany).
-- params: -
-- returns: nothing
INSERT INTO db_dbnode (id, uuid, node_type, process_type, label, description, ctime, mtime, attributes, extras, repository_metadata, dbcomputer_id, user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);
