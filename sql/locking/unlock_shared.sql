-- name: locking/unlock_shared
-- purpose: Release one shared hold of the profile's advisory lock.
-- params: key
-- returns: one boolean, true when a hold was released
SELECT pg_advisory_unlock_shared(%(key)s);
