-- name: locking/try_shared
-- purpose: Take shared access to the profile (session-level advisory lock, shared mode) without waiting.
-- params: key
-- returns: one boolean, true when granted
SELECT pg_try_advisory_lock_shared(%(key)s);
