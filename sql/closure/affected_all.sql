-- name: closure/affected_all
-- purpose: Stage every node with an incoming link of the closure's types (a full rebuild recomputes the ancestry of all of them).
-- params: link_types
-- returns: affected row count
INSERT INTO fastdos_closure_affected (id)
SELECT DISTINCT {output} FROM {links} WHERE type = ANY(%(link_types)s::text[]);
