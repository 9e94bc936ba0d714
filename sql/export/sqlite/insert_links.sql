-- name: export/sqlite/insert_links
-- purpose: SQLite, not PostgreSQL: one row of the archive's db_dblink, positional parameters in the column order of export/links (executemany), id assigned by SQLite as aiida-core's writer lets it.
-- params: -
-- returns: nothing
INSERT INTO db_dblink (input_id, output_id, label, type) VALUES (?, ?, ?, ?);
