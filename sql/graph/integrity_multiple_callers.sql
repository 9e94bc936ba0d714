-- name: graph/integrity_multiple_callers
-- purpose: Processes with more than one incoming call link (call_calc or call_work).
-- params: examples
-- returns: node id, caller ids (int[]), total
SELECT output_id, array_agg(input_id ORDER BY input_id), count(*) OVER ()
FROM db_dblink WHERE type IN ('call_calc', 'call_work')
GROUP BY output_id HAVING count(*) > 1
ORDER BY output_id LIMIT %(examples)s;
