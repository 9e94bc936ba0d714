-- name: container_keys/restore_jit
-- purpose: Put back the jit setting that container_keys/no_jit switched off.
-- params: previous
-- returns: the setting
SELECT set_config('jit', %(previous)s, true);
