-- name: query/jit_restore
-- purpose: Put back the jit setting that query/jit_off replaced.
-- params: previous
-- returns: the setting
SELECT set_config('jit', %(previous)s, false);
