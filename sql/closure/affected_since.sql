-- name: closure/affected_since
-- purpose: Stage the nodes whose ancestry changed since the watermark: outputs of newer links of the closure's types and all their descendants (UNION on id: cycles terminate).
-- params: watermark, link_types
-- returns: affected row count
INSERT INTO fastdos_closure_affected (id)
WITH RECURSIVE affected(id) AS (
    SELECT {output} FROM {links} WHERE id > %(watermark)s AND type = ANY(%(link_types)s::text[])
    UNION
    SELECT s.id FROM affected AS a CROSS JOIN LATERAL (
        SELECT l.{output} FROM {links} AS l
        WHERE l.{input} = a.id AND l.type = ANY(%(link_types)s::text[]) OFFSET 0
    ) AS s(id)
)
SELECT id FROM affected;
