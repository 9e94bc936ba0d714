-- name: importer/links_violations
-- purpose: Links to add that break aiida's link rules (docs/traversal-rules.md#link-rules): self-links, endpoint kinds, per-type uniqueness.
-- params: types, in_kinds, out_kinds, unique_in_label, unique_out, unique_out_label
-- returns: (archive link id, type, label, input uuid, input type, output uuid, output type, problem), at most 5
-- Uniqueness counts the target's links of the same type and the other links to add (the archive's own
-- duplicates of one triple were merged by importer/links_new, as aiida skips them as existing).
WITH rules AS (
    SELECT *
    FROM unnest(%(types)s::text[], %(in_kinds)s::text[], %(out_kinds)s::text[], %(unique_in_label)s::boolean[],
                %(unique_out)s::boolean[], %(unique_out_label)s::boolean[])
        AS r(type, in_kind, out_kind, unique_in_label, unique_out, unique_out_label)
), checked AS (
    SELECT n.archive_id, n.type, n.label, n.input_uuid, n.input_type, n.output_uuid, n.output_type,
        CASE
            WHEN n.input_id = n.output_id THEN 'a link from a node to itself'
            WHEN NOT starts_with(n.input_type, r.in_kind) THEN 'the input node is not a ' || r.in_kind || '* node'
            WHEN NOT starts_with(n.output_type, r.out_kind) THEN 'the output node is not a ' || r.out_kind || '* node'
            WHEN r.unique_in_label AND (
                count(*) OVER (PARTITION BY n.type, n.input_id, n.label) > 1
                OR EXISTS (SELECT 1 FROM db_dblink AS l
                           WHERE l.type = n.type AND l.input_id = n.input_id AND l.label = n.label))
                THEN 'the input node would have two outgoing links of this type with this label'
            WHEN r.unique_out AND (
                count(*) OVER (PARTITION BY n.type, n.output_id) > 1
                OR EXISTS (SELECT 1 FROM db_dblink AS l WHERE l.type = n.type AND l.output_id = n.output_id))
                THEN 'the output node would have two incoming links of this type'
            WHEN r.unique_out_label AND (
                count(*) OVER (PARTITION BY n.type, n.output_id, n.label) > 1
                OR EXISTS (SELECT 1 FROM db_dblink AS l
                           WHERE l.type = n.type AND l.output_id = n.output_id AND l.label = n.label))
                THEN 'the output node would have two incoming links of this type with this label'
        END AS problem
    FROM fastdos_import_new_links AS n
    JOIN rules AS r ON r.type = n.type
)
SELECT archive_id, type, label, input_uuid::text, input_type, output_uuid::text, output_type, problem
FROM checked
WHERE problem IS NOT NULL
ORDER BY archive_id
LIMIT 5;
