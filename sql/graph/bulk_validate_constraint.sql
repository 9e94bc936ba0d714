-- name: graph/bulk_validate_constraint
-- purpose: Validate a foreign key re-added NOT VALID: one join over the whole referencing table instead of a trigger query per deleted row.
-- params: -
-- returns: nothing
ALTER TABLE {table} VALIDATE CONSTRAINT {constraint};
