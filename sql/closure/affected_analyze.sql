-- name: closure/affected_analyze
-- purpose: Give the planner the staging table's real size before the recursive insert joins on it.
-- params: -
-- returns: -
ANALYZE fastdos_closure_affected;
