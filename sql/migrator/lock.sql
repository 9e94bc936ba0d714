-- name: migrator/lock
-- purpose: Serialise schema initialisation and migration across processes (transaction-scoped advisory lock).
-- params: key
-- returns: nothing
SELECT pg_advisory_xact_lock(%(key)s);
