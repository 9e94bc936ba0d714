-- name: export/all_ids
-- purpose: Every id of one table (the start sets of an export of everything).
-- params: -
-- returns: id (ascending)
SELECT t.id FROM {table} AS t ORDER BY t.id;
