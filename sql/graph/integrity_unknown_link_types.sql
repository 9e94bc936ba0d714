-- name: graph/integrity_unknown_link_types
-- purpose: Links whose type is not one of aiida's six LinkType values.
-- params: link_types, examples
-- returns: link id, type, input_id, output_id, total
SELECT id, type, input_id, output_id, count(*) OVER ()
FROM db_dblink WHERE NOT type = ANY(%(link_types)s::text[])
ORDER BY id LIMIT %(examples)s;
