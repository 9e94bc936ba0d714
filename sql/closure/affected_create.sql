-- name: closure/affected_create
-- purpose: The transaction's staging table of nodes whose closure rows are recomputed.
-- params: -
-- returns: -
CREATE TEMPORARY TABLE fastdos_closure_affected (id integer PRIMARY KEY) ON COMMIT DROP;
