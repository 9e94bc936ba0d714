-- name: ingest/add_foreign_key
-- purpose: Re-add a foreign key from its pg_get_constraintdef text; validates every row of the table in one pass.
-- params: -
-- returns: nothing
ALTER TABLE {table} ADD CONSTRAINT {constraint} {definition};
