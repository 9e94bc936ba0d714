-- name: ingest/drop_temp
-- purpose: Drop a temporary table of this call (so a later call in the same transaction can create it again).
-- params: -
-- returns: nothing
DROP TABLE {temp};
