-- name: export/group_nodes
-- purpose: The memberships of the exported groups, each (group, node) pair once, as binary COPY rows (the archive numbers them anew, as aiida-core's writer does).
-- params: group_ids
-- returns: dbnode_id int4, dbgroup_id int4
COPY (
    SELECT m.dbnode_id, m.dbgroup_id
    FROM db_dbgroup_dbnodes AS m
    WHERE m.dbgroup_id = ANY(%(group_ids)s::integer[])
    GROUP BY m.dbnode_id, m.dbgroup_id
    ORDER BY min(m.id)
) TO STDOUT (FORMAT BINARY);
