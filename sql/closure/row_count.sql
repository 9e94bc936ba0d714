-- name: closure/row_count
-- purpose: Exact number of rows of the closure table (after a rebuild or fold; for the budget check and the state row).
-- params: -
-- returns: count
SELECT count(*) FROM {closure};
