-- name: ingest/drop_foreign_keys
-- purpose: Drop foreign keys of a table in one statement (load mode; re-added, and so re-validated, before commit).
-- params: -
-- returns: nothing
-- The drops are a list of `DROP CONSTRAINT <identifier>` clauses: one statement per table takes its locks and
-- invalidates its caches once (bench/notes/import.md: 9 keys of 5 tables, 14 ms instead of 26 ms dropped and re-added).
ALTER TABLE {table} {drops};
