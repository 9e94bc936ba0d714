-- name: export/sqlite/insert_users
-- purpose: SQLite, not PostgreSQL: one row of the archive's db_dbuser, positional parameters in the column order of export/users (executemany).
-- params: -
-- returns: nothing
INSERT INTO db_dbuser (id, email, first_name, last_name, institution) VALUES (?, ?, ?, ?, ?);
