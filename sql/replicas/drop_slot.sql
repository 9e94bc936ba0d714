-- name: replicas/drop_slot
-- purpose: Drop a replica's physical replication slot on the primary when it exists and no standby streams from it (a removed or failed replica), so the primary stops keeping WAL for it.
-- params: slot
-- returns: one row per dropped slot
SELECT pg_catalog.pg_drop_replication_slot(slot_name)
FROM pg_catalog.pg_replication_slots
WHERE slot_name = %(slot)s AND NOT active;
