-- name: graph/traverse_levels
-- purpose: graph/traverse by levels, for large start sets: each level is one scan of db_dblink over the whole frontier array (= ANY) per direction, whose targets are kept only when a binary search finds them in none of the three sorted arrays of nodes already reached (as graph/walk_wide); a deletion of 10^4 work chains traversed in 66 ms against 192 ms node-wise (bench/notes/graph.md). It stops early, with `continues` set on its last row, after narrow_levels levels in a row of fewer than narrow nodes (a chain: graph/traverse is cheaper per node there) or once the sorting work passes dedup_per_node times the nodes reached plus dedup_base; the caller then runs graph/traverse instead. Run with enable_indexscan off (fastdos/graph.py: a bitmap scan per level). The fragments it is composed with (graph/reached_next, graph/reached_tier) add the params narrow and merge_min.
-- params: ids, group_ids, forward, backward, narrow_levels, dedup_per_node, dedup_base
-- returns: frontier (integer[]: the nodes first reached at this level; the first row is the start set: the start nodes that exist and the members of the groups), continues (the traversal stopped here unfinished)
-- The reached arrays and their merging are those of graph/walk_wide (the fragments graph/reached_next and
-- graph/reached_tier, composed in, bench/notes/traversal.md, section 8).
WITH RECURSIVE level(frontier, settled, middle, recent, narrow_run, work) AS (
    SELECT s.f, '{{}}'::integer[], '{{}}'::integer[], s.f, 0, 0::bigint
    FROM (SELECT ARRAY(
        SELECT n.id FROM db_dbnode AS n WHERE n.id = ANY(%(ids)s::integer[])
        UNION
        SELECT m.dbnode_id FROM db_dbgroup_dbnodes AS m WHERE m.dbgroup_id = ANY(%(group_ids)s::integer[])
        ORDER BY 1
    ) OFFSET 0) AS s(f)
    UNION ALL
    SELECT n.f,
           {reached_next}
    FROM level AS w CROSS JOIN LATERAL (
        SELECT f, {reached_tier}
        FROM (SELECT ARRAY(
            SELECT DISTINCT c.id FROM (
                SELECT l.output_id AS id FROM db_dblink AS l
                WHERE l.input_id = ANY(w.frontier) AND l.type = ANY(%(forward)s::text[])
                UNION ALL
                SELECT l.input_id FROM db_dblink AS l
                WHERE l.output_id = ANY(w.frontier) AND l.type = ANY(%(backward)s::text[])
            ) AS c
            WHERE w.settled[width_bucket(c.id, w.settled)] IS DISTINCT FROM c.id
              AND w.middle[width_bucket(c.id, w.middle)] IS DISTINCT FROM c.id
              AND w.recent[width_bucket(c.id, w.recent)] IS DISTINCT FROM c.id
            ORDER BY 1
        ) OFFSET 0) AS level_nodes(f)
    ) AS n(f, tier)
    WHERE cardinality(w.frontier) > 0
      AND w.narrow_run < %(narrow_levels)s
      AND w.work <= %(dedup_per_node)s::bigint * (cardinality(w.settled) + cardinality(w.middle) + cardinality(w.recent))
                    + %(dedup_base)s::bigint
)
SELECT frontier,
       cardinality(frontier) > 0
       AND (narrow_run >= %(narrow_levels)s
            OR work > %(dedup_per_node)s::bigint * (cardinality(settled) + cardinality(middle) + cardinality(recent))
                      + %(dedup_base)s::bigint)
FROM level;
