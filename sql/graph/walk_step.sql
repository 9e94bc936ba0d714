-- name: graph/walk_step
-- purpose: One level of the client-side breadth-first walk: the distinct targets of the frontier's links of the given types ({source} -> {target}), as one array (one value to parse instead of a row per node). The caller drops the nodes it has already reached.
-- params: frontier, link_types
-- returns: targets (integer[])
SELECT ARRAY(
    SELECT DISTINCT l.{target} FROM db_dblink AS l
    WHERE l.{source} = ANY(%(frontier)s::integer[]) AND l.type = ANY(%(link_types)s::text[])
);
