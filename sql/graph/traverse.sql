-- name: graph/traverse
-- purpose: Expand a start set of nodes (the nodes ids and the members of the groups group_ids) by traversal rules to a fixpoint, as aiida's traverse_graph does, in one recursive statement; UNION deduplicates on id, so cycles terminate. Deletion (DELETE rules) and export (EXPORT rules) both walk with it.
-- params: ids, group_ids, forward, backward
-- returns: id (every reached node, the start nodes that exist included; in no particular order)
WITH RECURSIVE reached(id) AS (
    SELECT n.id FROM db_dbnode AS n WHERE n.id = ANY(%(ids)s::integer[])
    UNION
    SELECT m.dbnode_id FROM db_dbgroup_dbnodes AS m WHERE m.dbgroup_id = ANY(%(group_ids)s::integer[])
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
