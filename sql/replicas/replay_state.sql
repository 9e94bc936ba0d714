-- name: replicas/replay_state
-- purpose: On a read replica: whether it is a standby, and the WAL position it has replayed (bytes from 0/0); the router compares that position with the primary's recent positions for the replay lag and with this backend's last write for read-your-writes (docs/replicas.md#routing).
-- params: -
-- returns: one row (in_recovery boolean, replay_lsn bigint, NULL on a server not in recovery)
SELECT pg_catalog.pg_is_in_recovery(), (pg_catalog.pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint;
