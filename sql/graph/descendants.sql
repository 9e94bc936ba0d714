-- name: graph/descendants
-- purpose: Nodes reachable from the start set along links of the given types (input to output), each with its minimal depth. The recursion carries depth and deduplicates (id, depth) with UNION; depth is bounded by max_depth or, without it, by the size of the reachable set (a shortest path never needs more hops), so cycles terminate.
-- params: ids, link_types, max_depth
-- returns: id, depth
-- The recursive terms join through LATERAL ... OFFSET 0 (not flattened into a join): the planner cannot
-- size the work table and otherwise picks a hash join that scans db_dblink once per hop (O(N^2) on a chain).
WITH RECURSIVE reach(id) AS (
    SELECT l.output_id FROM db_dblink AS l
    WHERE l.input_id = ANY(%(ids)s::integer[]) AND l.type = ANY(%(link_types)s::text[])
    UNION
    SELECT s.id FROM reach AS r CROSS JOIN LATERAL (
        SELECT l.output_id FROM db_dblink AS l
        WHERE l.input_id = r.id AND l.type = ANY(%(link_types)s::text[]) OFFSET 0
    ) AS s(id)
),
bound(hops) AS (
    -- coalesce short-circuits: with max_depth given the reachable set is never computed.
    SELECT coalesce(%(max_depth)s::bigint, (SELECT count(*) FROM reach))
),
walk(id, depth) AS (
    SELECT l.output_id, 1 FROM db_dblink AS l
    WHERE l.input_id = ANY(%(ids)s::integer[]) AND l.type = ANY(%(link_types)s::text[])
    UNION
    SELECT s.id, w.depth + 1 FROM walk AS w CROSS JOIN LATERAL (
        SELECT l.output_id FROM db_dblink AS l
        WHERE l.input_id = w.id AND l.type = ANY(%(link_types)s::text[]) OFFSET 0
    ) AS s(id)
    WHERE w.depth < (SELECT hops FROM bound)
)
SELECT id, min(depth) AS depth FROM walk GROUP BY id;
