-- name: export/sqlite/insert_group_nodes
-- purpose: SQLite, not PostgreSQL: one row of the archive's db_dbgroup_dbnodes, positional parameters in the column order of export/group_nodes (executemany), id assigned by SQLite as aiida-core's writer lets it.
-- params: -
-- returns: nothing
INSERT INTO db_dbgroup_dbnodes (dbnode_id, dbgroup_id) VALUES (?, ?);
