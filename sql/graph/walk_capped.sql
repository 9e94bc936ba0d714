-- name: graph/walk_capped
-- purpose: Nodes reachable from the start set along links of the given types ({source} -> {target}: input_id/output_id for descendants, the reverse for ancestors), each with its minimal depth, in one recursive statement that gives up after row_limit rows. The recursion deduplicates (id, depth) pairs only, so a node reachable at many depths (many start nodes on a chain, a DAG with shortcuts, a cycle) is produced once per depth; LIMIT stops the lazily evaluated recursion, and a full count tells the caller to switch to the level walk (graph/walk_wide). Below the cap the result is exact.
-- params: ids, link_types, max_depth, row_limit
-- returns: id, depth, rows (the capped row count, the same on every row; row_limit means: incomplete)
-- The recursive term joins through LATERAL ... OFFSET 0 (not flattened into a join): the planner cannot
-- size the work table and otherwise picks a hash join that scans db_dblink once per hop (O(N^2) on a chain).
WITH RECURSIVE walk(id, depth) AS (
    SELECT l.{target}, 1 FROM db_dblink AS l
    WHERE l.{source} = ANY(%(ids)s::integer[]) AND l.type = ANY(%(link_types)s::text[])
    UNION
    SELECT s.id, w.depth + 1 FROM walk AS w CROSS JOIN LATERAL (
        SELECT l.{target} FROM db_dblink AS l
        WHERE l.{source} = w.id AND l.type = ANY(%(link_types)s::text[]) OFFSET 0
    ) AS s(id)
    WHERE w.depth < coalesce(%(max_depth)s::integer, 2147483647)
),
capped AS MATERIALIZED (
    SELECT id, depth FROM walk LIMIT %(row_limit)s
)
SELECT id, min(depth), (SELECT count(*) FROM capped) FROM capped GROUP BY id;
