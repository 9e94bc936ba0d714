-- name: closure/estimate_rows
-- purpose: Estimate the size of a full closure before building it: count the descendants of a random sample of link sources (UNION on (source, id): cycles terminate) and scale by the number of sources.
-- params: link_types, sample
-- returns: sources, sampled, reached_pairs
WITH RECURSIVE sources AS MATERIALIZED (
    SELECT DISTINCT {input} AS id FROM {links} WHERE type = ANY(%(link_types)s::text[])
),
sample AS MATERIALIZED (
    SELECT id FROM sources ORDER BY random() LIMIT %(sample)s
),
walk(source_id, id) AS (
    SELECT s.id, l.{output} FROM sample AS s JOIN {links} AS l ON l.{input} = s.id
    WHERE l.type = ANY(%(link_types)s::text[])
    UNION
    SELECT w.source_id, s.id FROM walk AS w CROSS JOIN LATERAL (
        SELECT l.{output} FROM {links} AS l
        WHERE l.{input} = w.id AND l.type = ANY(%(link_types)s::text[]) OFFSET 0
    ) AS s(id)
)
SELECT (SELECT count(*) FROM sources), (SELECT count(*) FROM sample), (SELECT count(*) FROM walk);
