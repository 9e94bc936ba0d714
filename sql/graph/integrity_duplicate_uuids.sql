-- name: graph/integrity_duplicate_uuids
-- purpose: Node UUIDs used more than once (impossible under uq_db_dbnode_uuid, checked as aiida 1.x did for databases that lost it).
-- params: examples
-- returns: uuid, ids (int[]), total (number of duplicated uuids)
SELECT uuid::text, array_agg(id ORDER BY id), count(*) OVER ()
FROM db_dbnode GROUP BY uuid HAVING count(*) > 1
ORDER BY uuid LIMIT %(examples)s;
