-- name: query/create_index_concurrently
-- purpose: As query/create_index, without blocking writes (must run outside a transaction).
-- params: -
-- returns: nothing
CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON db_dbnode ({expression}) {predicate};
