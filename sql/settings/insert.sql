-- name: settings/insert
-- purpose: Create a global setting; every column supplied because the schema has no server defaults.
-- params: key, val, description, time
-- returns: nothing
INSERT INTO db_dbsetting (key, val, description, "time")
VALUES (%(key)s, %(val)s, %(description)s, %(time)s);
