-- name: closure/insert_children
-- purpose: Recompute the ancestry of the staged nodes set-wise: direct parents, plus the stored closure of parents that are not staged (their ancestry is unchanged), propagated along links between staged nodes; minimal depth per pair. Depth is bounded (longest stored depth among the seeds + number of staged nodes + 1) so that a cycle terminates.
-- params: link_types
-- returns: inserted row count
INSERT INTO {closure} ({parent}, {child}, depth)
WITH RECURSIVE incoming AS MATERIALIZED (
    SELECT l.{input} AS parent_id, l.{output} AS child_id, (s.id IS NOT NULL) AS parent_staged
    FROM {links} AS l
    JOIN fastdos_closure_affected AS a ON a.id = l.{output}
    LEFT JOIN fastdos_closure_affected AS s ON s.id = l.{input}
    WHERE l.type = ANY(%(link_types)s::text[])
),
seeds(ancestor_id, node_id, depth) AS (
    SELECT parent_id, child_id, 1 FROM incoming
    UNION ALL
    SELECT c.{parent}, i.child_id, c.depth + 1
    FROM incoming AS i JOIN {closure} AS c ON c.{child} = i.parent_id
    WHERE NOT i.parent_staged
),
bound(hops) AS (
    SELECT coalesce(max(depth), 0) + (SELECT count(*) FROM fastdos_closure_affected) + 1 FROM seeds
),
walk(ancestor_id, node_id, depth) AS (
    SELECT ancestor_id, node_id, depth FROM seeds
    UNION
    SELECT w.ancestor_id, i.child_id, w.depth + 1
    FROM walk AS w JOIN incoming AS i ON i.parent_id = w.node_id
    WHERE i.parent_staged AND w.depth < (SELECT hops FROM bound)
)
SELECT ancestor_id, node_id, min(depth) FROM walk GROUP BY ancestor_id, node_id;
