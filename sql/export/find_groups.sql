-- name: export/find_groups
-- purpose: The groups named by pk, uuid text or label (to report the ones that do not exist).
-- params: pks, texts
-- returns: id, uuid, label
SELECT g.id, g.uuid::text, g.label
FROM db_dbgroup AS g
WHERE g.id = ANY(%(pks)s::integer[]) OR g.uuid::text = ANY(%(texts)s::text[]) OR g.label = ANY(%(texts)s::text[]);
