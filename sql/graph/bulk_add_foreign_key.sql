-- name: graph/bulk_add_foreign_key
-- purpose: Re-add a foreign key dropped by the bulk deletion from its pg_get_constraintdef text, NOT VALID (graph/bulk_validate_constraint checks the rows).
-- params: -
-- returns: nothing
ALTER TABLE {table} ADD CONSTRAINT {constraint} {definition} NOT VALID;
