-- name: ingest/copy_rows
-- purpose: Binary COPY of rows (their ids included) straight into a table.
-- params: -
-- returns: nothing
COPY {table} ({columns}) FROM STDIN (FORMAT BINARY);
