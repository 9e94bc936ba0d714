-- name: ingest/update_from_bumping
-- purpose: Apply the rows of the bulk_update temp table by id and set the onupdate column (mtime) to now.
-- params: now
-- returns: row count
UPDATE {table} AS t SET {assignments}, {bumped} = %(now)s FROM {temp} AS s WHERE t.id = s.id;
