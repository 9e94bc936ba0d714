-- name: export/computer_ids
-- purpose: The computers of an export: the start computers and the computers of the exported nodes.
-- params: computer_ids, ids
-- returns: id (ascending)
SELECT c.id FROM db_dbcomputer AS c WHERE c.id = ANY(%(computer_ids)s::integer[])
UNION
SELECT DISTINCT n.dbcomputer_id FROM db_dbnode AS n
WHERE n.id = ANY(%(ids)s::integer[]) AND n.dbcomputer_id IS NOT NULL
ORDER BY 1;
