-- name: importer/create_staging
-- purpose: One of the archive import's working tables; its columns come from the catalog (fastdos/importer/staging.py).
-- params: -
-- returns: nothing
-- ON COMMIT DROP: an import interrupted before it drops its tables leaves nothing behind at the end of the transaction.
CREATE TEMPORARY TABLE {table} ({columns}) ON COMMIT DROP;
