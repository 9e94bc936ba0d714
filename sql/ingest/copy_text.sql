-- name: ingest/copy_text
-- purpose: Text-format COPY of pre-serialised rows (the raw path the benchmarks compare bulk_insert with).
-- params: -
-- returns: nothing
COPY {table} ({columns}) FROM STDIN;
