-- name: export/sqlite/insert_computers
-- purpose: SQLite, not PostgreSQL: one row of the archive's db_dbcomputer, positional parameters in the column order of export/computers (executemany).
-- params: -
-- returns: nothing
INSERT INTO db_dbcomputer (id, uuid, label, hostname, description, scheduler_type, transport_type, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?);
