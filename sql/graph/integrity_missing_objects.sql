-- name: graph/integrity_missing_objects
-- purpose: Repository keys referenced in nodes' repository_metadata that are missing from the staged container keys (fastdos_container_keys, see fastdos/container_keys.py).
-- params: examples
-- returns: key, node ids (int[], up to 10), total (missing keys)
-- The referenced keys are found with the jsonpath walk of container_keys/referenced (every string-valued k at
-- any depth), here keeping the node id of each reference to name examples.
WITH referenced AS (
    SELECT k.value #>> '{}' AS key, n.id AS node_id
    FROM db_dbnode AS n
    CROSS JOIN LATERAL jsonb_path_query(n.repository_metadata, 'strict $.**.k ? (@.type() == "string")') AS k (value)
),
missing AS (
    SELECT r.key, (array_agg(DISTINCT r.node_id ORDER BY r.node_id))[1:10] AS node_ids
    FROM referenced AS r
    WHERE NOT EXISTS (SELECT 1 FROM fastdos_container_keys AS c WHERE c.key = r.key)
    GROUP BY r.key
)
SELECT key, node_ids, count(*) OVER () FROM missing ORDER BY key LIMIT %(examples)s;
