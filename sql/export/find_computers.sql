-- name: export/find_computers
-- purpose: The computers named by pk, uuid text or label (to report the ones that do not exist).
-- params: pks, texts
-- returns: id, uuid, label
SELECT c.id, c.uuid::text, c.label
FROM db_dbcomputer AS c
WHERE c.id = ANY(%(pks)s::integer[]) OR c.uuid::text = ANY(%(texts)s::text[]) OR c.label = ANY(%(texts)s::text[]);
