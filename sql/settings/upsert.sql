-- name: settings/upsert
-- purpose: Create or overwrite a setting (used when a database is re-linked to a new container).
-- params: key, val, description, time
-- returns: nothing
INSERT INTO db_dbsetting (key, val, description, "time")
VALUES (%(key)s, %(val)s, %(description)s, %(time)s)
ON CONFLICT (key) DO UPDATE SET val = excluded.val, "time" = excluded."time";
