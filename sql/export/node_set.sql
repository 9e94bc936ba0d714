-- name: export/node_set
-- purpose: The nodes of an export: the start nodes and the members of the start groups, expanded by the EXPORT traversal rules to a fixpoint in one recursive statement (the shape of graph/delete_closure; UNION deduplicates, so cycles end).
-- params: ids, group_ids, forward, backward
-- returns: id (ascending)
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
SELECT id FROM reached ORDER BY id;
