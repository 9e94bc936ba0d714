-- name: context/open_transaction
-- purpose: First statement on an idle borrowed connection: psycopg opens the owner's transaction before it.
-- params: -
-- returns: one row (1)
SELECT 1;
