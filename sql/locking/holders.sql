-- name: locking/holders
-- purpose: Other sessions holding the profile's advisory lock in this database, with what identifies them (a bigint key is stored as classid = high half, objid = low half, objsubid = 1).
-- params: key
-- returns: mode ('ShareLock' or 'ExclusiveLock'), application_name, client_addr
SELECT l.mode, a.application_name, host(a.client_addr)
FROM pg_catalog.pg_locks AS l
LEFT JOIN pg_catalog.pg_stat_activity AS a ON a.pid = l.pid
WHERE l.locktype = 'advisory'
  AND l.granted
  AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
  AND l.classid = (%(key)s::bigint >> 32)::oid
  AND l.objid = (%(key)s::bigint & 4294967295)::oid
  AND l.objsubid = 1
  AND l.pid <> pg_backend_pid()
ORDER BY l.pid;
