-- name: export/sqlite/insert_groups
-- purpose: SQLite, not PostgreSQL: one row of the archive's db_dbgroup, positional parameters in the column order of export/groups (executemany).
-- params: -
-- returns: nothing
INSERT INTO db_dbgroup (id, uuid, label, type_string, time, description, extras, user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?);
