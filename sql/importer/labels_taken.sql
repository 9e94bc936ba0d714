-- name: importer/labels_taken
-- purpose: Which of the given labels a table (computers or groups) already uses, for clash renaming.
-- params: labels
-- returns: one row per taken label
SELECT DISTINCT label FROM {table} WHERE label = ANY(%(labels)s::text[]);
