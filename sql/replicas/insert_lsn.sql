-- name: replicas/insert_lsn
-- purpose: On the primary, after a commit: the current WAL insert position (bytes from 0/0), at or past the end of that commit's record even with synchronous_commit off; a replica that has replayed this far sees the commit.
-- params: -
-- returns: one bigint
SELECT (pg_catalog.pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint;
