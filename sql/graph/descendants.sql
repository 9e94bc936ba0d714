-- name: graph/descendants
-- purpose: Nodes reachable from the start set along links of the given types (input to output), each with its minimal depth. The recursion carries depth and deduplicates (id, depth) with UNION; depth is bounded by max_depth or, without it, by the size of the reachable set (a shortest path never needs more hops), so cycles terminate.
-- params: ids, link_types, max_depth
-- returns: id, depth
WITH RECURSIVE reach(id) AS (
    SELECT l.output_id FROM db_dblink AS l
    WHERE l.input_id = ANY(%(ids)s::integer[]) AND l.type = ANY(%(link_types)s::text[])
    UNION
    SELECT l.output_id FROM reach AS r JOIN db_dblink AS l ON l.input_id = r.id
    WHERE l.type = ANY(%(link_types)s::text[])
),
bound(hops) AS (
    -- coalesce short-circuits: with max_depth given the reachable set is never computed.
    SELECT coalesce(%(max_depth)s::bigint, (SELECT count(*) FROM reach))
),
walk(id, depth) AS (
    SELECT l.output_id, 1 FROM db_dblink AS l
    WHERE l.input_id = ANY(%(ids)s::integer[]) AND l.type = ANY(%(link_types)s::text[])
    UNION
    SELECT l.output_id, w.depth + 1 FROM walk AS w JOIN db_dblink AS l ON l.input_id = w.id
    WHERE l.type = ANY(%(link_types)s::text[]) AND w.depth < (SELECT hops FROM bound)
)
SELECT id, min(depth) AS depth FROM walk GROUP BY id;
