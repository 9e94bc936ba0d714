-- name: export/no_jit
-- purpose: No JIT compilation in the export's own transaction: the recursive walk's cost estimate triggers it, and compiling took ~0.5 s on walks that run in milliseconds (bench/notes/export.md).
-- params: -
-- returns: off
SELECT set_config('jit', 'off', true);
