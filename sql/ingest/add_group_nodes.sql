-- name: ingest/add_group_nodes
-- purpose: Add (group, node) memberships set-wise, skipping pairs that exist (aiida's ON CONFLICT DO NOTHING).
-- params: group_ids, node_ids
-- returns: row count (memberships added)
INSERT INTO db_dbgroup_dbnodes (dbgroup_id, dbnode_id)
SELECT p.dbgroup_id, p.dbnode_id
FROM unnest(%(group_ids)s::integer[], %(node_ids)s::integer[]) AS p(dbgroup_id, dbnode_id)
ON CONFLICT (dbgroup_id, dbnode_id) DO NOTHING;
