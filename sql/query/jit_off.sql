-- name: query/jit_off
-- purpose: Switch JIT off on the connection for one QueryBuilder statement that walks ancestors/descendants: the planner's estimate of the per-hop index probes passes the JIT thresholds, and compiling cost ~126 ms of a 145 ms walk that runs in ~13 ms without it (bench/notes/traversal.md). Session-level (the connection may be in autocommit); query/jit_restore puts the previous value back.
-- params: -
-- returns: previous (the jit setting before), the new setting
SELECT previous, set_config('jit', 'off', false) FROM (SELECT current_setting('jit') AS previous) AS s;
