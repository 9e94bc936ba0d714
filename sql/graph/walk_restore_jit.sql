-- name: graph/walk_restore_jit
-- purpose: Put back the jit setting that graph/walk_no_jit switched off.
-- params: previous
-- returns: the setting
SELECT set_config('jit', %(previous)s, true);
