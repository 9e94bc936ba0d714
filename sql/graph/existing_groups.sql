-- name: graph/existing_groups
-- purpose: Which of the given group ids exist.
-- params: group_ids
-- returns: id
SELECT id FROM db_dbgroup WHERE id = ANY(%(group_ids)s::integer[]);
