-- name: export/unsealed
-- purpose: Process nodes of the export that are not sealed (aiida-core refuses to export them: attributes.sealed must be the boolean true).
-- params: everything, ids
-- returns: id (ascending)
SELECT n.id
FROM db_dbnode AS n
WHERE (%(everything)s OR n.id = ANY(%(ids)s::integer[]))
  AND n.node_type LIKE 'process.%%'
  AND NOT coalesce(jsonb_typeof(n.attributes -> 'sealed') = 'boolean' AND (n.attributes ->> 'sealed')::boolean, false)
ORDER BY n.id;
