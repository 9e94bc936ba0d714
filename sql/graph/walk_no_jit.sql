-- name: graph/walk_no_jit
-- purpose: No JIT compilation for the walks (graph/walk_capped, the levels): their estimates over a large start set or frontier pass the JIT thresholds, and compiling cost 132 ms of a 166 ms capped walk (bench/notes/traversal.md). Transaction-local; graph/walk_restore_jit puts the previous value back, since the transaction may be a caller's that goes on.
-- params: -
-- returns: previous (the jit setting before), the new setting
SELECT previous, set_config('jit', 'off', true) FROM (SELECT current_setting('jit') AS previous) AS s;
