-- name: migrator/any_node
-- purpose: Whether db_dbnode holds at least one row (guards re-linking a database to a new container).
-- params: -
-- returns: one boolean
SELECT EXISTS (SELECT 1 FROM db_dbnode);
