-- name: replicas/replay_state
-- purpose: On a read replica: whether it is a standby, the WAL position it has replayed (bytes from 0/0) and its replay lag in seconds (0 when it has replayed all it received, or has received nothing yet since its start, when the receive position restarts at a segment boundary behind the replay position; else the age of the last replayed commit), read-your-writes and the lag bound compare against these (docs/replicas.md).
-- params: -
-- returns: one row (in_recovery boolean, replay_lsn bigint or NULL, lag_seconds double precision or NULL)
SELECT pg_catalog.pg_is_in_recovery(),
       (pg_catalog.pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint,
       CASE
           WHEN NOT pg_catalog.pg_is_in_recovery() THEN NULL
           WHEN coalesce(pg_catalog.pg_last_wal_receive_lsn() <= pg_catalog.pg_last_wal_replay_lsn(), true) THEN 0.0
           ELSE coalesce(
               extract(epoch FROM pg_catalog.clock_timestamp() - pg_catalog.pg_last_xact_replay_timestamp())::double precision,
               0.0
           )
       END;
