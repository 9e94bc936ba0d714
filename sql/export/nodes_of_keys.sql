-- name: export/nodes_of_keys
-- purpose: The exported nodes that reference any of the given object keys (to name the node of a missing object).
-- params: ids, keys
-- returns: id, uuid, key
SELECT n.id, n.uuid::text, k.key #>> '{}'
FROM db_dbnode AS n
CROSS JOIN LATERAL jsonb_path_query(n.repository_metadata, 'strict $.**.k ? (@.type() == "string")') AS k(key)
WHERE n.id = ANY(%(ids)s::integer[]) AND k.key #>> '{}' = ANY(%(keys)s::text[])
ORDER BY n.id;
