-- name: export/object_keys
-- purpose: Every distinct repository object key of the exported nodes' repository_metadata trees (a file is {"k": key}; a directory {"o": {...}}, so a string under the member "k" is always a key).
-- params: everything, ids
-- returns: key
SELECT DISTINCT k.key #>> '{}' AS key
FROM db_dbnode AS n
CROSS JOIN LATERAL jsonb_path_query(n.repository_metadata, 'strict $.**.k ? (@.type() == "string")') AS k(key)
WHERE (%(everything)s OR n.id = ANY(%(ids)s::integer[]));
