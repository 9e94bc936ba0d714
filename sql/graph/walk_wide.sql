-- name: graph/walk_wide
-- purpose: Breadth-first walk from the start set along links of the given types ({source} -> {target}), one row per level, in one recursive statement: each level is one index scan over the whole frontier array (= ANY), minus every node already reached (the visited array the rows carry), so each node comes out once, at its minimal depth, whatever the number of start nodes or of paths to it. The recursion stops at the end of the walk, at max_depth, after narrow_levels levels in a row of fewer than narrow nodes (a chain: the node-wise walk, graph/walk_narrow, is cheaper per level), or once the dedup work (visited elements scanned, summed over the levels) passes dedup_per_node times the nodes reached plus dedup_base (a long walk of many small levels would cost O(levels x reached)); `continues` marks the level graph/walk_narrow goes on from.
-- params: ids, link_types, max_depth, narrow, narrow_levels, dedup_per_node, dedup_base
-- returns: depth, frontier (integer[]: the nodes first reached at this depth), continues (the walk stopped here with more to do)
-- The dedup is `EXCEPT` against the visited array: PostgreSQL has no set that persists across the levels of a
-- recursion other than a recursive UNION's own, and that one forces a per-row index probe of each reached
-- node (~2x the cost of one `= ANY` scan per level, bench/notes/traversal.md). The visited array is a
-- concatenation of sorted frontiers, so the setop's sort of it is cheap. `OFFSET 0` keeps the level's
-- subquery from being pulled up: its result is used twice (frontier and visited), and pulled up it ran twice.
WITH RECURSIVE level(depth, frontier, visited, narrow_run, work) AS (
    SELECT 1, seed.f, seed.f, CASE WHEN cardinality(seed.f) < %(narrow)s THEN 1 ELSE 0 END, 0::bigint
    FROM (SELECT ARRAY(
        SELECT DISTINCT l.{target} FROM db_dblink AS l
        WHERE l.{source} = ANY(%(ids)s::integer[]) AND l.type = ANY(%(link_types)s::text[])
    ) OFFSET 0) AS seed(f)
    UNION ALL
    SELECT w.depth + 1, n.f, w.visited || n.f,
           CASE WHEN cardinality(n.f) < %(narrow)s THEN w.narrow_run + 1 ELSE 0 END,
           w.work + cardinality(w.visited)
    FROM level AS w CROSS JOIN LATERAL (SELECT ARRAY(
        SELECT l.{target} FROM db_dblink AS l
        WHERE l.{source} = ANY(w.frontier) AND l.type = ANY(%(link_types)s::text[])
        EXCEPT SELECT unnest(w.visited)
    ) OFFSET 0) AS n(f)
    WHERE cardinality(w.frontier) > 0
      AND w.depth < coalesce(%(max_depth)s::integer, 2147483647)
      AND w.narrow_run < %(narrow_levels)s
      AND w.work <= %(dedup_per_node)s::bigint * cardinality(w.visited) + %(dedup_base)s::bigint
)
SELECT depth, frontier,
       cardinality(frontier) > 0
       AND depth < coalesce(%(max_depth)s::integer, 2147483647)
       AND (narrow_run >= %(narrow_levels)s
            OR work > %(dedup_per_node)s::bigint * cardinality(visited) + %(dedup_base)s::bigint)
FROM level;
