-- name: settings/update
-- purpose: Overwrite the value of an existing setting and bump its time (aiida's onupdate); the description is kept.
-- params: key, val, time
-- returns: affected row count (0 when the key does not exist)
UPDATE db_dbsetting SET val = %(val)s, "time" = %(time)s WHERE key = %(key)s;
