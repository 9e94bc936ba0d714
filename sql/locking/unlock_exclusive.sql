-- name: locking/unlock_exclusive
-- purpose: Release one exclusive hold of the profile's advisory lock.
-- params: key
-- returns: one boolean, true when a hold was released
SELECT pg_advisory_unlock(%(key)s);
