-- name: schema/main_0002
-- purpose: Drop the caching hash of every CalcJobNode (it wrongly included repository content since v2.0); aiida-core revision main_0002, used for upgrade and downgrade alike.
-- params: -
-- returns: nothing
-- kind: script
UPDATE db_dbnode
SET extras = extras #- '{_aiida_hash}'::text[]
WHERE node_type = 'process.calculation.calcjob.CalcJobNode.';
