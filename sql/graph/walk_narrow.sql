-- name: graph/walk_narrow
-- purpose: Breadth-first walk on from a frontier (the nodes first reached at depth first_depth) along links of the given types ({source} -> {target}), never back into the nodes reached before (visited, the frontier included), in one recursive statement whose UNION holds the visited set across the levels: each newly reached node is one row and one index probe, however many levels (a chain of 10^4 nodes in 17-40 ms, where the level loop this replaced took 0.15-3.4 s: bench/notes/traversal.md, section 7).
-- params: frontier, first_depth, visited, link_types, max_depth
-- returns: node, depth (each node first reached after the frontier, once, at its minimal depth)
-- A row is (node, v), v an interval of `node` microseconds in all, split as `depth` days, minus `depth` x 24
-- hours, plus the node's microseconds. PostgreSQL compares and hashes intervals by their total span, so the
-- UNION sees a node reached again at a later depth as a row it has, and keeps the first: the minimal depth,
-- since the recursion is breadth-first. The days field still says the depth. Only integer fields are
-- touched (exact). The visited nodes enter the UNION's set with days = -1, after the frontier (the first row
-- of a node wins), and the recursive term does not expand them.
WITH RECURSIVE reached(node, v) AS (
    SELECT f.node, make_interval(days => %(first_depth)s::integer, hours => -24 * %(first_depth)s::integer)
                   + interval '1 microsecond' * f.node
    FROM unnest(%(frontier)s::integer[]) AS f(node)
    UNION
    SELECT s.node, interval '-1 day 24 hours' + interval '1 microsecond' * s.node
    FROM unnest(%(visited)s::integer[]) AS s(node)
    UNION
    SELECT l.{target}, r.v + interval '1 day -24 hours' + interval '1 microsecond' * (l.{target} - r.node)
    FROM reached AS r JOIN db_dblink AS l ON l.{source} = r.node
    WHERE extract(day FROM r.v) BETWEEN 0 AND coalesce(%(max_depth)s::integer, 2147483647) - 1
      AND l.type = ANY(%(link_types)s::text[])
)
SELECT node, extract(day FROM v)::integer FROM reached WHERE extract(day FROM v) > %(first_depth)s::integer;
