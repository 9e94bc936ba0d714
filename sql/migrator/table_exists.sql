-- name: migrator/table_exists
-- purpose: Whether a table of this name exists in the current schema (version detection without SQLAlchemy reflection).
-- params: name
-- returns: one boolean
SELECT EXISTS (
    SELECT 1
    FROM pg_catalog.pg_class AS c
    JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema()
      AND c.relname = %(name)s
      AND c.relkind IN ('r', 'p')
);
