-- name: closure/affected_since
-- purpose: Stage the nodes whose ancestry changed since the watermark: outputs of newer links of the closure's types and all their descendants (UNION on id: cycles terminate).
-- params: watermark, link_types
-- returns: affected row count
INSERT INTO fastdos_closure_affected (id)
WITH RECURSIVE affected(id) AS (
    SELECT {output} FROM {links} WHERE id > %(watermark)s AND type = ANY(%(link_types)s::text[])
    UNION
    SELECT l.{output} FROM affected AS a JOIN {links} AS l ON l.{input} = a.id
    WHERE l.type = ANY(%(link_types)s::text[])
)
SELECT id FROM affected;
