-- name: container_keys/differences
-- purpose: Compare the keys referenced by nodes (a recursive walk of every repository_metadata tree, inside the server) with the container's keys: the unreferenced container keys, and, when check is true, the referenced keys missing from the container.
-- params: check
-- returns: key, missing (false: in the container but referenced by no node; true: referenced but not in the container)
-- The walk is jsonpath's recursive descent `.**`: every member named k at any depth whose value is a string.
-- In a well-formed tree ({"o": {...}} / {"k": key} / {}) only file entries have a string k: a file or folder
-- NAMED "k" is a member of an "o" object and its value is an object, so the type filter skips it. Measured at
-- 10^5 nodes: 0.55-0.9 s against 1.75-2.15 s for a WITH RECURSIVE walk over jsonb_each (bench/notes/repository.md).
WITH referenced AS MATERIALIZED (
    SELECT DISTINCT k.value #>> '{}' AS key
    FROM db_dbnode AS n
    CROSS JOIN LATERAL jsonb_path_query(n.repository_metadata, 'strict $.**.k ? (@.type() == "string")') AS k (value)
)
SELECT c.key, false AS missing
FROM fastdos_container_keys AS c
WHERE NOT EXISTS (SELECT 1 FROM referenced AS r WHERE r.key = c.key)
UNION ALL
SELECT r.key, true AS missing
FROM referenced AS r
WHERE %(check)s
  AND NOT EXISTS (SELECT 1 FROM fastdos_container_keys AS c WHERE c.key = r.key);
