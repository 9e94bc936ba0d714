-- name: ingest/add_group_nodes_new
-- purpose: Add (group, node) memberships that are all new, as a plain INSERT (fails on a pair that exists).
-- params: group_ids, node_ids
-- returns: row count (memberships added)
-- Without ON CONFLICT every row is a plain insert instead of a speculative one: 10^5 memberships cost the
-- server 2.2 s instead of 3.3 s (bench/notes/ingest.md). fastdos.ingest.add_nodes_to_groups runs it in a
-- savepoint and falls back to ingest/add_group_nodes when a pair exists already.
INSERT INTO db_dbgroup_dbnodes (dbgroup_id, dbnode_id)
SELECT p.dbgroup_id, p.dbnode_id
FROM unnest(%(group_ids)s::integer[], %(node_ids)s::integer[]) AS p(dbgroup_id, dbnode_id);
