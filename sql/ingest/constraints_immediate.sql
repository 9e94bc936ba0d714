-- name: ingest/constraints_immediate
-- purpose: Check deferred constraints at the end of each statement for the rest of this transaction.
-- params: -
-- returns: nothing
SET CONSTRAINTS ALL IMMEDIATE;
