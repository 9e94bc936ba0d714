-- name: query/node_usage
-- purpose: How many nodes reference each of the given users or computers ({column} is user_id or dbcomputer_id); checked before a delete that RESTRICT would refuse.
-- params: ids
-- returns: referenced id, node count
SELECT {column}, count(*) FROM db_dbnode WHERE {column} = ANY(%(ids)s::integer[]) GROUP BY {column} ORDER BY {column};
