-- name: settings/lock
-- purpose: Row-lock a setting so that check-then-write in set_global_variable is race free.
-- params: key
-- returns: one row when the key exists
SELECT id FROM db_dbsetting WHERE key = %(key)s FOR UPDATE;
