-- name: query/create_index
-- purpose: Create a btree expression index on db_dbnode, optionally partial; {expression} and {predicate} are composed from validated JSON keys and a node_type prefix (DDL takes no parameters).
-- params: -
-- returns: nothing
CREATE INDEX IF NOT EXISTS {name} ON db_dbnode ({expression}) {predicate};
