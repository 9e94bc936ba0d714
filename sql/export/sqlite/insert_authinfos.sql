-- name: export/sqlite/insert_authinfos
-- purpose: SQLite, not PostgreSQL: one row of the archive's db_dbauthinfo, positional parameters in the column order of export/authinfos (executemany).
-- params: -
-- returns: nothing
INSERT INTO db_dbauthinfo (id, aiidauser_id, dbcomputer_id, metadata, auth_params, enabled) VALUES (?, ?, ?, ?, ?, ?);
