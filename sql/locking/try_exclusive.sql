-- name: locking/try_exclusive
-- purpose: Take the exclusive profile lock (session-level advisory lock) without waiting; the own shared hold does not conflict.
-- params: key
-- returns: one boolean, true when granted
SELECT pg_try_advisory_lock(%(key)s);
