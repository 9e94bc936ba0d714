-- name: ingest/reserve_ids
-- purpose: Reserve n ids of a table's id sequence in one statement (ascending; other sessions may interleave).
-- params: table, n
-- returns: one int8[] of n new ids
SELECT array_agg(nextval(pg_get_serial_sequence(%(table)s, 'id')))
FROM generate_series(1, %(n)s);
