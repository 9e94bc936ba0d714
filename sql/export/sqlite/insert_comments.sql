-- name: export/sqlite/insert_comments
-- purpose: SQLite, not PostgreSQL: one row of the archive's db_dbcomment, positional parameters in the column order of export/comments (executemany).
-- params: -
-- returns: nothing
INSERT INTO db_dbcomment (id, uuid, dbnode_id, ctime, mtime, user_id, content) VALUES (?, ?, ?, ?, ?, ?, ?);
