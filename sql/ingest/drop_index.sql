-- name: ingest/drop_index
-- purpose: Drop one index (load mode; the transaction re-creates it from its catalog definition).
-- params: -
-- returns: nothing
DROP INDEX {index};
