-- name: graph/integrity_missing_objects
-- purpose: Repository keys referenced in nodes' repository_metadata (every "k" anywhere in the "o" tree, walked recursively in SQL) that are missing from the staged container keys.
-- params: examples
-- returns: key, node ids (int[], up to 10), total (missing keys)
WITH RECURSIVE tree(node_id, entry) AS (
    SELECT id, repository_metadata FROM db_dbnode
    WHERE repository_metadata ? 'o' OR repository_metadata ? 'k'
    UNION ALL
    SELECT t.node_id, c.value
    FROM tree AS t CROSS JOIN LATERAL jsonb_each(t.entry -> 'o') AS c
    WHERE jsonb_typeof(t.entry -> 'o') = 'object'
),
referenced AS (
    SELECT entry ->> 'k' AS key, node_id FROM tree WHERE jsonb_typeof(entry -> 'k') = 'string'
),
missing AS (
    SELECT r.key, (array_agg(DISTINCT r.node_id ORDER BY r.node_id))[1:10] AS node_ids
    FROM referenced AS r
    WHERE NOT EXISTS (SELECT 1 FROM fastdos_container_keys AS c WHERE c.key = r.key)
    GROUP BY r.key
)
SELECT key, node_ids, count(*) OVER () FROM missing ORDER BY key LIMIT %(examples)s;
