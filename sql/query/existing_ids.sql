-- name: query/existing_ids
-- purpose: Which of the given ids exist in a table (for NotExistent errors that name the missing ones).
-- params: ids
-- returns: id
SELECT id FROM {table} WHERE id = ANY(%(ids)s::integer[]);
