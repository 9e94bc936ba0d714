-- name: settings/get
-- purpose: Read one global setting (db_dbsetting) by key.
-- params: key
-- returns: val (jsonb, decoded), or no row
SELECT val FROM db_dbsetting WHERE key = %(key)s;
