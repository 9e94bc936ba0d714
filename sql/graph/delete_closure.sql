-- name: graph/delete_closure
-- purpose: Expand a start set of nodes by traversal rules to a fixpoint (aiida's traverse_graph) in one recursive statement; UNION deduplicates on id, so cycles terminate.
-- params: ids, forward, backward
-- returns: id (every reached node, start nodes that exist included)
WITH RECURSIVE reached(id) AS (
    SELECT n.id FROM db_dbnode AS n WHERE n.id = ANY(%(ids)s::integer[])
    UNION
    SELECT step.id
    FROM reached AS r
    CROSS JOIN LATERAL (
        SELECT l.output_id FROM db_dblink AS l
        WHERE l.input_id = r.id AND l.type = ANY(%(forward)s::text[])
        UNION ALL
        SELECT l.input_id FROM db_dblink AS l
        WHERE l.output_id = r.id AND l.type = ANY(%(backward)s::text[])
    ) AS step(id)
)
SELECT id FROM reached;
