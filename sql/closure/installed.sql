-- name: closure/installed
-- purpose: Whether the closure table and its state table exist in the current schema.
-- params: closure, state
-- returns: installed (bool)
SELECT to_regclass(quote_ident(%(closure)s)) IS NOT NULL AND to_regclass(quote_ident(%(state)s)) IS NOT NULL;
