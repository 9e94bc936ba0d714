-- name: export/snapshot
-- purpose: First statement of the export's transaction: one consistent snapshot for every read, and no writes.
-- params: -
-- returns: nothing
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;
