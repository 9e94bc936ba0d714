-- name: graph/bulk_traverse_into
-- purpose: graph/traverse for a deletion: the reached ids go straight into fastdos_delete_ids (created by graph/bulk_ids_create), where the set-wise strategies join against them, instead of travelling to the client and back.
-- params: ids, group_ids, forward, backward
-- returns: id (every reached node, as graph/traverse)
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
INSERT INTO fastdos_delete_ids (id) SELECT id FROM reached RETURNING id;
