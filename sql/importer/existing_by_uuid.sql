-- name: importer/existing_by_uuid
-- purpose: Which of a batch of archive uuids exist in an entity table (nodes, computers, groups, logs, comments).
-- params: uuids
-- returns: (1-based position in uuids, id) per existing row
SELECT u.ord::integer, t.id
FROM unnest(%(uuids)s::uuid[]) WITH ORDINALITY AS u(uuid, ord)
JOIN {table} AS t ON t.uuid = u.uuid;
