-- name: graph/integrity_multiple_creators
-- purpose: Nodes with more than one incoming create link.
-- params: examples
-- returns: node id, creator ids (int[]), total
SELECT output_id, array_agg(input_id ORDER BY input_id), count(*) OVER ()
FROM db_dblink WHERE type = 'create'
GROUP BY output_id HAVING count(*) > 1
ORDER BY output_id LIMIT %(examples)s;
