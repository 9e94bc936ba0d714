-- name: closure/lock
-- purpose: Serialise closure refreshes (and fastdos deletions touching the closure) with a transaction-level advisory lock.
-- params: key
-- returns: -
SELECT pg_advisory_xact_lock(%(key)s);
