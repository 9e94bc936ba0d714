-- name: graph/bulk_current_setting
-- purpose: The current value of a server setting, to put it back with ingest/set_local after the bulk deletion changed it for a few statements.
-- params: setting
-- returns: the value
SELECT current_setting(%(setting)s);
