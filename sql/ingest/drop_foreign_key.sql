-- name: ingest/drop_foreign_key
-- purpose: Drop one foreign key of a table (load mode; re-added, and so re-validated, before commit).
-- params: -
-- returns: nothing
ALTER TABLE {table} DROP CONSTRAINT {constraint};
