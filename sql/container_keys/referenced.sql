-- name: container_keys/referenced
-- purpose: Every object key referenced by a node's repository_metadata, one row per reference (a key shared by several files or nodes comes once per reference; the caller deduplicates into a set, which measured cheaper than a DISTINCT here: the planner sizes the jsonpath at 1000 rows per node and sorts on disk). The fallback of container_keys/referenced_joined.
-- params: -
-- returns: key
-- The walk is jsonpath's recursive descent `.**`: every member named k at any depth whose value is a string.
-- In a well-formed tree ({"o": {...}} / {"k": key} / {}) only file entries have a string k: a file or folder
-- NAMED "k" is a member of an "o" object and its value is an object, so the type filter skips it. Measured at
-- 10^5 nodes: 0.1-0.2 s with JIT off, against 1.75-2.15 s for a WITH RECURSIVE walk over jsonb_each
-- (bench/notes/repository.md).
SELECT k.value #>> '{}' AS key
FROM db_dbnode AS n
CROSS JOIN LATERAL jsonb_path_query(n.repository_metadata, 'strict $.**.k ? (@.type() == "string")') AS k (value);
