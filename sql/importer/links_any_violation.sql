-- name: importer/links_any_violation
-- purpose: Whether any link to add breaks a link rule: the cheap test (hash aggregates and joins, no sorts) before importer/links_violations explains.
-- params: types, in_kinds, out_kinds, in_label_types, out_types, out_label_types
-- returns: one boolean
WITH rules AS (
    SELECT * FROM unnest(%(types)s::text[], %(in_kinds)s::text[], %(out_kinds)s::text[]) AS r(type, in_kind, out_kind)
)
SELECT EXISTS (
        SELECT 1 FROM fastdos_import_new_links AS n JOIN rules AS r ON r.type = n.type
        WHERE n.input_id = n.output_id OR NOT starts_with(n.input_type, r.in_kind)
           OR NOT starts_with(n.output_type, r.out_kind))
    OR EXISTS (
        SELECT 1 FROM fastdos_import_new_links AS n WHERE n.type = ANY(%(in_label_types)s::text[])
        GROUP BY n.type, n.input_id, n.label HAVING count(*) > 1)
    OR EXISTS (
        SELECT 1 FROM fastdos_import_new_links AS n WHERE n.type = ANY(%(out_types)s::text[])
        GROUP BY n.type, n.output_id HAVING count(*) > 1)
    OR EXISTS (
        SELECT 1 FROM fastdos_import_new_links AS n WHERE n.type = ANY(%(out_label_types)s::text[])
        GROUP BY n.type, n.output_id, n.label HAVING count(*) > 1)
    OR EXISTS (
        SELECT 1 FROM fastdos_import_new_links AS n
        JOIN db_dblink AS l ON l.type = n.type AND l.input_id = n.input_id AND l.label = n.label
        WHERE n.type = ANY(%(in_label_types)s::text[]))
    OR EXISTS (
        SELECT 1 FROM fastdos_import_new_links AS n
        JOIN db_dblink AS l ON l.type = n.type AND l.output_id = n.output_id
        WHERE n.type = ANY(%(out_types)s::text[]))
    OR EXISTS (
        SELECT 1 FROM fastdos_import_new_links AS n
        JOIN db_dblink AS l ON l.type = n.type AND l.output_id = n.output_id AND l.label = n.label
        WHERE n.type = ANY(%(out_label_types)s::text[]));
