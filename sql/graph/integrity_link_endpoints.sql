-- name: graph/integrity_link_endpoints
-- purpose: Links of a known type whose endpoints have the wrong node kind (docs/traversal-rules.md#link-rules: create calc->data, return work->data, input_calc data->calc, input_work data->work, call_calc work->calc, call_work work->work).
-- params: examples
-- returns: link id, type, input_id, input node_type, output_id, output node_type, total
WITH kinds AS (
    SELECT * FROM (VALUES
        ('create', 'process.calculation.', 'data.'),
        ('return', 'process.workflow.', 'data.'),
        ('input_calc', 'data.', 'process.calculation.'),
        ('input_work', 'data.', 'process.workflow.'),
        ('call_calc', 'process.workflow.', 'process.calculation.'),
        ('call_work', 'process.workflow.', 'process.workflow.')
    ) AS k(type, input_prefix, output_prefix)
)
SELECT l.id, l.type, l.input_id, i.node_type, l.output_id, o.node_type, count(*) OVER ()
FROM db_dblink AS l
JOIN kinds AS k ON k.type = l.type
JOIN db_dbnode AS i ON i.id = l.input_id
JOIN db_dbnode AS o ON o.id = l.output_id
WHERE NOT starts_with(i.node_type, k.input_prefix) OR NOT starts_with(o.node_type, k.output_prefix)
ORDER BY l.id LIMIT %(examples)s;
