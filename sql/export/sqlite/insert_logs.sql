-- name: export/sqlite/insert_logs
-- purpose: SQLite, not PostgreSQL: one row of the archive's db_dblog, positional parameters in the column order of export/logs (executemany).
-- params: -
-- returns: nothing
INSERT INTO db_dblog (id, uuid, time, loggername, levelname, dbnode_id, message, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?);
