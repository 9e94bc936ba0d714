-- name: session/swap_local
-- purpose: Set a server setting for the rest of the current transaction only, and return the value it had, so that fastdos/session_settings.py can put it back (the transaction may be a caller's that goes on).
-- params: setting, value
-- returns: previous (the value before), the new value
SELECT previous, set_config(%(setting)s, %(value)s, true) FROM (SELECT current_setting(%(setting)s) AS previous) AS s;
