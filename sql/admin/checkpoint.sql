-- name: admin/checkpoint
-- purpose: Write a checkpoint now, so WAL segments of a bulk load are recycled instead of kept until the next timed one.
-- params: -
-- returns: nothing
CHECKPOINT;
