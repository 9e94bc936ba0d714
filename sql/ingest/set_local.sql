-- name: ingest/set_local
-- purpose: Set a server setting for the rest of the current transaction only.
-- params: setting, value
-- returns: the new value
SELECT set_config(%(setting)s, %(value)s, true);
