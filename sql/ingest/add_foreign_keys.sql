-- name: ingest/add_foreign_keys
-- purpose: Re-add foreign keys of a table from their pg_get_constraintdef text in one statement; each validates every row.
-- params: -
-- returns: nothing
-- The additions are a list of `ADD CONSTRAINT <identifier> <definition>` clauses (see ingest/drop_foreign_keys).
ALTER TABLE {table} {additions};
