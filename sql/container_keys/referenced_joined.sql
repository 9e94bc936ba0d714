-- name: container_keys/referenced_joined
-- purpose: Every object key referenced by a node's repository_metadata, one reference per key, joined by spaces into one text, with the number of references: one value to transfer and split instead of 10^5 rows to parse (183-450 ms against 440-550 ms at 10^5 nodes, bench/notes/repository.md). A key containing a space makes the split longer than the count, and the caller falls back to container_keys/referenced.
-- params: -
-- returns: keys (text, NULL when no node references anything), count
-- The walk is the jsonpath of container_keys/referenced (every string-valued k at any depth).
SELECT string_agg(k.value #>> '{}', ' '), count(*)
FROM db_dbnode AS n
CROSS JOIN LATERAL jsonb_path_query(n.repository_metadata, 'strict $.**.k ? (@.type() == "string")') AS k (value);
