-- name: scaling/analyze
-- purpose: Refresh the planner statistics (reltuples) of the whole database before sizes are read.
-- params: -
-- returns: -
ANALYZE;
