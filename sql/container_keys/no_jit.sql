-- name: container_keys/no_jit
-- purpose: No JIT compilation for the key extraction: the planner sizes jsonb_path_query at 1000 rows per node, the estimate passes every JIT threshold, and compiling took ~0.45 s of a 0.56 s key extraction at 10^5 nodes (bench/notes/repository.md). Transaction-local; container_keys/restore_jit puts the previous value back, since the transaction may be a caller's that goes on.
-- params: -
-- returns: previous (the jit setting before)
SELECT previous, set_config('jit', 'off', true) FROM (SELECT current_setting('jit') AS previous) AS s;
