-- name: replicas/primary_settings
-- purpose: The two settings a primary needs before a standby can stream from it: wal_level (replica or logical) and max_wal_senders (at least one per standby); both need a restart to change.
-- params: -
-- returns: one row (wal_level text, max_wal_senders integer)
SELECT pg_catalog.current_setting('wal_level'), pg_catalog.current_setting('max_wal_senders')::integer;
