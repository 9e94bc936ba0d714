-- name: graph/walk_wide
-- purpose: Breadth-first walk from the start set along links of the given types ({source} -> {target}), one row per level, in one recursive statement: each level is one scan of db_dblink over the whole frontier array (= ANY) whose targets are kept only when a binary search finds them in none of the three sorted arrays of nodes already reached, so each node comes out once, at its minimal depth, whatever the number of start nodes or of paths to it. The recursion stops at the end of the walk, at max_depth, after narrow_levels levels in a row of fewer than narrow nodes (a chain: the node-wise walk, graph/walk_narrow, is cheaper per level), or once the sorting work (elements sorted into the reached arrays, summed over the levels) passes dedup_per_node times the nodes reached plus dedup_base; `continues` marks the level graph/walk_narrow goes on from. Run with enable_indexscan off (fastdos/graph.py: a bitmap scan per level). The fragments it is composed with (graph/reached_next, graph/reached_tier) add the param merge_min (narrow is used here too).
-- params: ids, link_types, max_depth, narrow, narrow_levels, dedup_per_node, dedup_base
-- returns: depth, frontier (integer[]: the nodes first reached at this depth, ascending), continues (the walk stopped here with more to do)
-- The reached set is three sorted arrays, `settled`, `middle` and `recent`, merged like a log-structured tree:
-- each level's new nodes are sorted into `recent` while it stays within half of `middle` (and merge_min),
-- else `recent` and the level go into `middle` while that stays within half of `settled`, else everything into
-- `settled`; so a node is re-sorted a few times over the walk, where the `EXCEPT` against one visited array this
-- replaced streamed the whole reached set at every level (bench/notes/traversal.md, section 8). The membership
-- test is `arr[width_bucket(x, arr)] = x`: width_bucket binary-searches a sorted array, and the subscript of a
-- fixed-width array without NULLs is a direct offset. PostgreSQL has no other set that persists across the
-- levels of a recursion but a recursive UNION's own, and that one forces a per-row index probe of each
-- reached node. `OFFSET 0` keeps the level's subquery from being pulled up: its result is used several times.
-- The new arrays and the tier are the fragments graph/reached_next and graph/reached_tier, shared with
-- graph/traverse_levels (fastdos/graph.py composes them in).
WITH RECURSIVE level(depth, frontier, settled, middle, recent, narrow_run, work) AS (
    SELECT 1, seed.f, '{{}}'::integer[], '{{}}'::integer[], seed.f,
           CASE WHEN cardinality(seed.f) < %(narrow)s THEN 1 ELSE 0 END, 0::bigint
    FROM (SELECT ARRAY(
        SELECT DISTINCT l.{target} FROM db_dblink AS l
        WHERE l.{source} = ANY(%(ids)s::integer[]) AND l.type = ANY(%(link_types)s::text[])
        ORDER BY 1
    ) OFFSET 0) AS seed(f)
    UNION ALL
    SELECT w.depth + 1, n.f,
           {reached_next}
    FROM level AS w CROSS JOIN LATERAL (
        SELECT f, {reached_tier}
        FROM (SELECT ARRAY(
            SELECT DISTINCT l.{target} FROM db_dblink AS l
            WHERE l.{source} = ANY(w.frontier) AND l.type = ANY(%(link_types)s::text[])
              AND w.settled[width_bucket(l.{target}, w.settled)] IS DISTINCT FROM l.{target}
              AND w.middle[width_bucket(l.{target}, w.middle)] IS DISTINCT FROM l.{target}
              AND w.recent[width_bucket(l.{target}, w.recent)] IS DISTINCT FROM l.{target}
            ORDER BY 1
        ) OFFSET 0) AS level_nodes(f)
    ) AS n(f, tier)
    WHERE cardinality(w.frontier) > 0
      AND w.depth < coalesce(%(max_depth)s::integer, 2147483647)
      AND w.narrow_run < %(narrow_levels)s
      AND w.work <= %(dedup_per_node)s::bigint * (cardinality(w.settled) + cardinality(w.middle) + cardinality(w.recent))
                    + %(dedup_base)s::bigint
)
SELECT depth, frontier,
       cardinality(frontier) > 0
       AND depth < coalesce(%(max_depth)s::integer, 2147483647)
       AND (narrow_run >= %(narrow_levels)s
            OR work > %(dedup_per_node)s::bigint * (cardinality(settled) + cardinality(middle) + cardinality(recent))
                      + %(dedup_base)s::bigint)
FROM level;
