-- name: session/set_local
-- purpose: Set a server setting for the rest of the current transaction only (puts back what session/swap_local returned).
-- params: setting, value
-- returns: the new value
SELECT set_config(%(setting)s, %(value)s, true);
