-- name: maintenance/key_differences
-- purpose: Compare the keys referenced by nodes (a recursive walk of every repository_metadata tree, inside the server) with the container's keys: the unreferenced container keys, and, when check is true, the referenced keys missing from the container.
-- params: check
-- returns: key, missing (false: in the container but referenced by no node; true: referenced but not in the container)
WITH RECURSIVE walk (entry) AS (
    SELECT n.repository_metadata
    FROM db_dbnode AS n
    WHERE n.repository_metadata ? 'o' OR n.repository_metadata ? 'k'
  UNION ALL
    SELECT child.value
    FROM walk
    CROSS JOIN LATERAL jsonb_each(walk.entry -> 'o') AS child
    WHERE jsonb_typeof(walk.entry -> 'o') = 'object'
),
referenced AS MATERIALIZED (
    SELECT DISTINCT entry ->> 'k' AS key
    FROM walk
    WHERE jsonb_typeof(entry -> 'k') = 'string'
)
SELECT c.key, false AS missing
FROM fastdos_container_keys AS c
WHERE NOT EXISTS (SELECT 1 FROM referenced AS r WHERE r.key = c.key)
UNION ALL
SELECT r.key, true AS missing
FROM referenced AS r
WHERE %(check)s
  AND NOT EXISTS (SELECT 1 FROM fastdos_container_keys AS c WHERE c.key = r.key);
